// Liveness/readiness for the frontend alone: it never calls the backend, so a
// backend outage does not restart the frontend.
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ status: "ok" });
}
