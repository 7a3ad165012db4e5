// End-to-end browser test: real Chromium (playwright-core, /usr/bin/chromium)
// against the Next.js standalone server and the real FastAPI backend on
// loopback, with a fresh PostgreSQL database.
//
// Needs: HOIST_TEST_DATABASE_URL, a built frontend (npm run build), the backend
// test venv (scripts/setup.sh). Optional: CHROMIUM (default /usr/bin/chromium),
// BACKEND_PYTHON (default ../backend/.venv/bin/python).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const backendDir = path.join(root, "backend");
const frontendDir = path.join(root, "frontend");
const python = process.env.BACKEND_PYTHON ?? path.join(backendDir, ".venv/bin/python");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const resultsDir = path.join(here, "test-results");
const STEP_TIMEOUT = 30_000;

const adminUrl = process.env.HOIST_TEST_DATABASE_URL;
if (!adminUrl && process.env.CI === "true") {
  throw new Error("HOIST_TEST_DATABASE_URL is not set; the browser test needs a real PostgreSQL");
}

const children = [];
const cleanups = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function db(sql) {
  const code = "import sys, psycopg\nwith psycopg.connect(sys.argv[1], autocommit=True) as c: c.execute(sys.argv[2])";
  const r = spawnSync(python, ["-c", code, adminUrl, sql], { encoding: "utf8" });
  assert.equal(r.status, 0, `database setup failed: ${r.stderr}`);
}

function start(name, command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  child.log = "";
  child.stdout.on("data", (d) => (child.log += d));
  child.stderr.on("data", (d) => (child.log += d));
  child.name = name;
  children.push(child);
  return child;
}

async function waitFor(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.name} exited (${child.exitCode}):\n${child.log}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${child.log}`);
}

// Copy the standalone output the way an image holds it, read-only, and run it as
// an unprivileged user when we are root: only .next/cache is writable, so a write
// anywhere else fails the test.
function assembleFrontend(dir) {
  const standalone = path.join(frontendDir, ".next/standalone/server.js");
  assert.ok(existsSync(standalone), "frontend is not built: run `npm run build` in frontend/");
  cpSync(path.join(frontendDir, ".next/standalone"), dir, { recursive: true });
  cpSync(path.join(frontendDir, ".next/static"), path.join(dir, ".next/static"), { recursive: true });
  cpSync(path.join(frontendDir, "public"), path.join(dir, "public"), { recursive: true });
  const cache = path.join(dir, ".next/cache");
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache);
  const readOnly = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const entry of readdirSync(p)) if (path.join(p, entry) !== cache) readOnly(path.join(p, entry));
      chmodSync(p, 0o555);
    } else {
      chmodSync(p, 0o444);
    }
  };
  const asRoot = userInfo().uid === 0;
  const ids = asRoot ? { uid: 65534, gid: 65534 } : {};
  if (asRoot) chownSync(cache, 65534, 65534);
  readOnly(dir);
  return ids;
}

// Debian bookworm's Node 18 from the offline base (HOIST_BASES_DIR/node.tar), in a
// chroot: the frontend must run there as well as on the host's Node 20.
const node18Tar = process.env.HOIST_BASES_DIR ? path.join(process.env.HOIST_BASES_DIR, "node.tar") : null;
const node18Skip =
  !node18Tar || !existsSync(node18Tar)
    ? "HOIST_BASES_DIR/node.tar (cargo xtask bases) is not there"
    : userInfo().uid !== 0
      ? "chroot needs root"
      : false;

function frontendEnv(port) {
  return {
    PATH: "/usr/bin:/bin",
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    HOSTNAME: "127.0.0.1",
    PORT: String(port),
    BACKEND_URL: backendUrl,
  };
}

async function startHostFrontend() {
  const dir = mkdtempSync(path.join(tmpdir(), "todo-frontend-"));
  cleanups.push(() => {
    spawnSync("chmod", ["-R", "u+w", dir]); // made read-only below
    rmSync(dir, { recursive: true, force: true });
  });
  chmodSync(dir, 0o755);
  const ids = assembleFrontend(dir);
  const port = await freePort();
  const child = start("frontend (node " + process.version + ")", process.execPath, ["server.js"], {
    cwd: dir,
    ...ids,
    env: { ...frontendEnv(port), PATH: process.env.PATH },
  });
  await waitFor(`http://127.0.0.1:${port}/healthz`, child);
  return `http://127.0.0.1:${port}`;
}

async function startNode18Frontend() {
  const root = mkdtempSync(path.join(tmpdir(), "todo-node18-"));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  chmodSync(root, 0o755);
  const untar = spawnSync("tar", ["-xf", node18Tar, "-C", root], { encoding: "utf8" });
  assert.equal(untar.status, 0, untar.stderr);
  const app = path.join(root, "app");
  mkdirSync(app);
  assembleFrontend(app);
  const version = spawnSync("chroot", [root, "node", "--version"], { encoding: "utf8" }).stdout.trim();
  assert.match(version, /^v18\./);
  const port = await freePort();
  const env = Object.entries(frontendEnv(port)).map(([k, v]) => `${k}=${v}`);
  const child = start(`frontend (bookworm node ${version})`, "chroot", ["--userspec=65534:65534", root, "/usr/bin/env", "-i", ...env, "node", "/app/server.js"], {
    cwd: "/",
  });
  await waitFor(`http://127.0.0.1:${port}/healthz`, child);
  return `http://127.0.0.1:${port}`;
}

let backendUrl;
let frontendUrl;
let node18Url;
let dbName;

before(async () => {
  if (!adminUrl) return;
  dbName = `todo_browser_${randomBytes(5).toString("hex")}`;
  db(`CREATE DATABASE ${dbName}`);
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;

  const backendPort = await freePort();
  backendUrl = `http://127.0.0.1:${backendPort}`;
  const backend = start("backend", python, ["-m", "todo_api"], {
    cwd: backendDir,
    env: {
      PATH: process.env.PATH,
      PYTHONDONTWRITEBYTECODE: "1",
      DATABASE_URL: u.toString(),
      JWT_SECRET: `browser-test-${randomBytes(24).toString("hex")}`,
      HOST: "127.0.0.1",
      PORT: String(backendPort),
      LOG_LEVEL: "WARNING",
    },
  });
  await waitFor(`${backendUrl}/ready`, backend);

  frontendUrl = await startHostFrontend();
  if (!node18Skip) node18Url = await startNode18Frontend();
});

after(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }
  for (const cleanup of cleanups) cleanup();
  if (dbName) db(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
});

async function checkProxy(frontendUrl) {
  const health = await fetch(`${frontendUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const unauthorised = await fetch(`${frontendUrl}/api/tasks`);
  assert.equal(unauthorised.status, 401);
  assert.deepEqual(await unauthorised.json(), { detail: "missing or invalid bearer token" });
  // Every method and an empty-bodied 204 go through.
  const signup = await fetch(`${frontendUrl}/api/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: `proxy_${randomBytes(4).toString("hex")}`, password: "proxy test password" }),
  });
  assert.equal(signup.status, 201);
  const auth = { authorization: `Bearer ${(await signup.json()).token}`, "content-type": "application/json" };
  const created = await fetch(`${frontendUrl}/api/tasks`, { method: "POST", headers: auth, body: JSON.stringify({ title: "via proxy" }) });
  assert.equal(created.status, 201);
  const patched = await fetch(`${frontendUrl}/api/tasks/1`, { method: "PATCH", headers: auth, body: JSON.stringify({ done: true }) });
  assert.equal((await patched.json()).done, true);
  const deleted = await fetch(`${frontendUrl}/api/tasks/1`, { method: "DELETE", headers: { authorization: auth.authorization } });
  assert.equal(deleted.status, 204);
  assert.equal(await deleted.text(), "");
  const listed = await fetch(`${frontendUrl}/api/tasks?unused=1`, { headers: auth });
  assert.deepEqual(await listed.json(), []);
}

test("frontend on the host's node: healthz without the backend, the proxy forwards /api", { skip: !adminUrl }, () =>
  checkProxy(frontendUrl),
);

test("frontend on bookworm's node 18: the same", { skip: !adminUrl ? "no database" : node18Skip }, () => checkProxy(node18Url));

async function uiFlow(frontendUrl, screenshot) {
  const userDataDir = mkdtempSync(path.join(tmpdir(), "todo-chromium-"));
  cleanups.push(() => rmSync(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
    viewport: { width: 1100, height: 760 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(STEP_TIMEOUT);
    const username = `browser_${randomBytes(4).toString("hex")}`;
    const password = "browser test password";

    await page.goto(frontendUrl);
    await page.getByTestId("auth-toggle").click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByTestId("auth-submit").click();
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    assert.equal(await page.getByTestId("username").textContent(), username);

    // Log out, then a wrong password, then the right one.
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill("not the password");
    await page.getByTestId("auth-submit").click();
    // Next.js adds its own empty role=alert route announcer; ours is p.error.
    await page.locator("p.error").filter({ hasText: "invalid username or password" }).waitFor();
    await page.getByLabel("Password").fill(password);
    await page.getByTestId("auth-submit").click();
    await page.getByRole("heading", { name: "Tasks" }).waitFor();

    await page.getByPlaceholder("What needs doing?").fill("buy milk");
    await page.getByTestId("task-add").click();
    await page.getByTestId("task").filter({ hasText: "buy milk" }).waitFor();

    await page.getByPlaceholder("add buy milk").fill("add walk the dog");
    await page.getByTestId("chat-send").click();
    await page.getByTestId("chat-log").getByText("Added task 2: walk the dog").waitFor();
    await page.getByTestId("task").filter({ hasText: "walk the dog" }).waitFor();

    // A controlled checkbox: it flips once the API answered, so click, then wait.
    await page.getByLabel("Mark task 1 done").click();
    await page.locator("li.done", { hasText: "buy milk" }).waitFor();

    await page.reload();
    await page.getByTestId("task").nth(1).waitFor();
    const tasks = await page.getByTestId("task").allTextContents();
    assert.deepEqual(
      tasks.map((t) => t.replace(/Delete$/, "").trim()),
      ["#1buy milk", "#2walk the dog"],
    );
    assert.equal(await page.getByLabel("Mark task 1 not done").isChecked(), true);

    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: path.join(resultsDir, screenshot), fullPage: true });

    await page.getByLabel("Delete task 2").click();
    await page.getByTestId("task").filter({ hasText: "walk the dog" }).waitFor({ state: "detached" });
    assert.equal(await page.getByTestId("task").count(), 1);
  } finally {
    await context.close();
  }
}

test("sign up, log in, add tasks by form and by chat, reload", { skip: !adminUrl, timeout: 240_000 }, () =>
  uiFlow(frontendUrl, "app.png"),
);

test("the same in the browser, served by bookworm's node 18", { skip: !adminUrl ? "no database" : node18Skip, timeout: 240_000 }, () =>
  uiFlow(node18Url, "app-node18.png"),
);
