// Runs once when the server starts: a missing BACKEND_URL stops it at once with
// one line naming the variable, instead of failing every /api request later.
export function register(): void {
  if (process.env.NEXT_RUNTIME !== "nodejs" || process.env.NEXT_PHASE === "phase-production-build") return;
  if (!process.env.BACKEND_URL?.trim()) {
    console.error("todo-frontend: missing required environment variable: BACKEND_URL (see .env.example)");
    process.exit(1);
  }
}
