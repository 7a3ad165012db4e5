// Same-origin proxy: the browser calls /api/*, this server forwards to the
// backend named by BACKEND_URL, read at request time so one image serves
// every environment.
import type { NextRequest } from "next/server";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

const FORWARDED_REQUEST_HEADERS = ["authorization", "content-type", "accept"];
const FORWARDED_RESPONSE_HEADERS = ["content-type", "www-authenticate", "retry-after"];
const TIMEOUT_MS = 60_000;

function backendBase(): string | null {
  const raw = process.env.BACKEND_URL?.trim();
  return raw ? raw.replace(/\/+$/, "") : null;
}

const NOT_SENT = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH"]);

function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  return cause?.code;
}

function retryable(method: string, error: unknown): boolean {
  if (error instanceof Error && error.name === "TimeoutError") return false;
  return method === "GET" || method === "HEAD" || NOT_SENT.has(causeCode(error) ?? "");
}

function unreachable(request: NextRequest, error: unknown): Response {
  const reason = error instanceof Error ? error.message : String(error);
  const cause = causeCode(error);
  console.error(
    JSON.stringify({ level: "error", msg: "backend unreachable", path: request.nextUrl.pathname, reason, cause }),
  );
  return Response.json({ detail: "backend unreachable" }, { status: 502 });
}

async function proxy(request: NextRequest): Promise<Response> {
  const base = backendBase();
  if (!base) {
    console.error(JSON.stringify({ level: "error", msg: "BACKEND_URL is not set" }));
    return Response.json({ detail: "frontend misconfigured: BACKEND_URL is not set" }, { status: 500 });
  }
  const target = base + request.nextUrl.pathname + request.nextUrl.search;
  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value) headers.set(name, value);
  }
  // An empty body is sent as none: Node 18's fetch fails on a zero-length ArrayBuffer
  // (content-length mismatch), e.g. on every DELETE.
  const requestBody = request.method === "GET" || request.method === "HEAD" ? null : await request.arrayBuffer();
  const send = () =>
    fetch(target, {
      method: request.method,
      headers,
      body: requestBody && requestBody.byteLength > 0 ? requestBody : undefined,
      redirect: "manual",
      cache: "no-store",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  let upstream: Response;
  try {
    upstream = await send();
  } catch (first) {
    // Once, when the request cannot have reached the app: the connection was
    // refused or reset while opening (a backend pod stopping while the
    // Service's endpoints catch up), or any failure of a GET/HEAD.
    if (!retryable(request.method, first)) return unreachable(request, first);
    try {
      upstream = await send();
    } catch (second) {
      return unreachable(request, second);
    }
  }
  const responseHeaders = new Headers();
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value) responseHeaders.set(name, value);
  }
  responseHeaders.set("cache-control", "no-store");
  const body = upstream.status === 204 || upstream.status === 304 ? null : await upstream.arrayBuffer();
  return new Response(body, { status: upstream.status, headers: responseHeaders });
}

export const GET = proxy;
export const POST = proxy;
export const PUT = proxy;
export const PATCH = proxy;
export const DELETE = proxy;
