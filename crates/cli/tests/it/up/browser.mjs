// Real Chromium through the URL `hoist up` printed: sign up, log out, log
// in, "add buy milk" in the chat, the task appears in the list.
// Usage: node browser.mjs URL USERNAME PASSWORD; playwright-core is resolved
// from $PLAYWRIGHT_FROM (a directory with node_modules/playwright-core).
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const require = createRequire(path.join(process.env.PLAYWRIGHT_FROM, "package.json"));
const { chromium } = require("playwright-core");
const [url, username, password] = process.argv.slice(2);
const userDataDir = mkdtempSync(path.join(tmpdir(), "hoist-up-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  await page.getByTestId("auth-toggle").click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByTestId("auth-submit").click();
  await page.getByRole("heading", { name: "Tasks" }).waitFor();
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByTestId("auth-submit").click();
  await page.getByRole("heading", { name: "Tasks" }).waitFor();
  await page.getByPlaceholder("add buy milk").fill("add buy milk");
  await page.getByTestId("chat-send").click();
  await page.getByTestId("chat-log").getByText(/Added task \d+: buy milk/).waitFor();
  await page.getByTestId("task").filter({ hasText: "buy milk" }).waitFor();
  const tasks = await page.getByTestId("task").allTextContents();
  console.log(JSON.stringify({ tasks }));
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
