"use client";

import { useState, type FormEvent } from "react";
import { api, type Session } from "./api";

type AuthResponse = { token: string; user: { id: number; username: string } };

export function AuthForm({ onSession }: { onSession: (session: Session) => void }) {
  const [mode, setMode] = useState<"login" | "signup">("login");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await api<AuthResponse>(`/api/auth/${mode}`, { method: "POST", body: { username, password } });
      onSession({ token: result.token, username: result.user.username });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card auth" onSubmit={submit} aria-label={mode === "login" ? "Log in" : "Sign up"}>
      <h2>{mode === "login" ? "Log in" : "Create an account"}</h2>
      <label>
        Username
        <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required minLength={3} />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete={mode === "login" ? "current-password" : "new-password"}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
          minLength={8}
        />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy} data-testid="auth-submit">
        {mode === "login" ? "Log in" : "Sign up"}
      </button>
      <button type="button" className="link" onClick={() => setMode(mode === "login" ? "signup" : "login")} data-testid="auth-toggle">
        {mode === "login" ? "No account? Sign up" : "Have an account? Log in"}
      </button>
    </form>
  );
}
