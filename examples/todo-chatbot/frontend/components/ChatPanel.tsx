"use client";

import { useState, type FormEvent } from "react";
import { api, type ChatReply } from "./api";

type Message = { from: "you" | "bot"; text: string };
type Props = { token: string; onActions: () => Promise<void> };

export function ChatPanel({ token, onActions }: Props) {
  const [messages, setMessages] = useState<Message[]>([
    { from: "bot", text: 'Tell me what to do: "add buy milk", "list", "done 1", "delete 2".' },
  ]);
  const [input, setInput] = useState("");
  const [busy, setBusy] = useState(false);

  async function send(event: FormEvent) {
    event.preventDefault();
    const text = input.trim();
    if (!text) return;
    setMessages((m) => [...m, { from: "you", text }]);
    setInput("");
    setBusy(true);
    try {
      const result = await api<ChatReply>("/api/chat", { method: "POST", body: { message: text }, token });
      setMessages((m) => [...m, { from: "bot", text: result.reply }]);
      if (result.actions.length > 0) await onActions();
    } catch (e) {
      setMessages((m) => [...m, { from: "bot", text: `Error: ${e instanceof Error ? e.message : String(e)}` }]);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card chat" aria-label="Chat">
      <h2>Chat</h2>
      <ol className="messages" data-testid="chat-log">
        {messages.map((m, i) => (
          <li key={i} className={m.from}>
            <strong>{m.from === "you" ? "You" : "Bot"}:</strong> <span>{m.text}</span>
          </li>
        ))}
      </ol>
      <form className="row" onSubmit={send}>
        <input name="message" placeholder="add buy milk" value={input} onChange={(e) => setInput(e.target.value)} maxLength={2000} />
        <button type="submit" disabled={busy} data-testid="chat-send">
          Send
        </button>
      </form>
    </section>
  );
}
