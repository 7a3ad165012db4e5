"use client";

import { useCallback, useEffect, useState } from "react";
import { ApiError, api, type Session, type Task } from "@/components/api";
import { AuthForm } from "@/components/AuthForm";
import { ChatPanel } from "@/components/ChatPanel";
import { TaskList } from "@/components/TaskList";

const STORAGE_KEY = "todo-chatbot.session";

export default function Home() {
  const [session, setSession] = useState<Session | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const saved = window.localStorage.getItem(STORAGE_KEY);
    if (saved) {
      try {
        setSession(JSON.parse(saved) as Session);
      } catch {
        window.localStorage.removeItem(STORAGE_KEY);
      }
    }
    setLoaded(true);
  }, []);

  const logout = useCallback(() => {
    window.localStorage.removeItem(STORAGE_KEY);
    setSession(null);
    setTasks([]);
  }, []);

  const refresh = useCallback(async () => {
    if (!session) return;
    try {
      setTasks(await api<Task[]>("/api/tasks", { token: session.token }));
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) logout();
      else setError(e instanceof Error ? e.message : String(e));
    }
  }, [session, logout]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  function login(next: Session) {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    setSession(next);
  }

  return (
    <main>
      <header>
        <h1>Todo AI Chatbot</h1>
        {session && (
          <div className="who">
            <span data-testid="username">{session.username}</span>
            <button type="button" className="link" onClick={logout}>
              Log out
            </button>
          </div>
        )}
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!loaded ? null : session ? (
        <div className="grid">
          <TaskList token={session.token} tasks={tasks} onChange={refresh} onError={setError} />
          <ChatPanel token={session.token} onActions={refresh} />
        </div>
      ) : (
        <AuthForm onSession={login} />
      )}
    </main>
  );
}
