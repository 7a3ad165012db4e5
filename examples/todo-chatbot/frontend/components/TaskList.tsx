"use client";

import { useState, type FormEvent } from "react";
import { api, type Task } from "./api";

type Props = { token: string; tasks: Task[]; onChange: () => Promise<void>; onError: (message: string) => void };

export function TaskList({ token, tasks, onChange, onError }: Props) {
  const [title, setTitle] = useState("");

  async function run(action: () => Promise<unknown>) {
    try {
      await action();
      await onChange();
    } catch (e) {
      onError(e instanceof Error ? e.message : String(e));
    }
  }

  async function add(event: FormEvent) {
    event.preventDefault();
    const value = title.trim();
    if (!value) return;
    await run(() => api("/api/tasks", { method: "POST", body: { title: value }, token }));
    setTitle("");
  }

  return (
    <section className="card" aria-label="Tasks">
      <h2>Tasks</h2>
      <form className="row" onSubmit={add}>
        <input name="title" placeholder="What needs doing?" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={500} />
        <button type="submit" data-testid="task-add">
          Add
        </button>
      </form>
      {tasks.length === 0 ? (
        <p className="muted">No tasks yet.</p>
      ) : (
        <ul className="tasks" data-testid="task-list">
          {tasks.map((task) => (
            <li key={task.id} className={task.done ? "done" : ""} data-testid="task">
              <label>
                <input
                  type="checkbox"
                  checked={task.done}
                  onChange={() => run(() => api(`/api/tasks/${task.id}`, { method: "PATCH", body: { done: !task.done }, token }))}
                  aria-label={`Mark task ${task.id} ${task.done ? "not done" : "done"}`}
                />
                <span className="number">#{task.id}</span>
                <span className="title">{task.title}</span>
              </label>
              <button
                type="button"
                className="link danger"
                onClick={() => run(() => api(`/api/tasks/${task.id}`, { method: "DELETE", token }))}
                aria-label={`Delete task ${task.id}`}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
