"""The console in a real browser (run by scripts/console-browser-test, which starts the servers).

Debian's Chromium, headless, driven by Playwright (its executable_path: no browser download).
Controls are found by their accessible names (PROTOCOLS.md §13), as a screen reader finds them.

Environment: CONSOLE_URL, CONSOLE_KEY, CONSOLE_SECOND_KEY, CONSOLE_WORKSPACES (the gateway's
WORKSPACES_ROOT), CONSOLE_ARTIFACTS (screenshots), CHROMIUM.
"""

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["CONSOLE_URL"]
KEY = os.environ["CONSOLE_KEY"]
SECOND_KEY = os.environ["CONSOLE_SECOND_KEY"]
WORKSPACES = os.environ["CONSOLE_WORKSPACES"]
ARTIFACTS = os.environ["CONSOLE_ARTIFACTS"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

started = time.monotonic()
failures = []


def step(name):
    print(f"-- {name} ({time.monotonic() - started:.1f}s)", flush=True)


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"   FAILED: {message}", flush=True)
    return condition


def http(method, path, headers=None, body=None):
    """(status, parsed body or text, headers) of a request made outside the browser."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None), response.headers
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return error.code, parsed, error.headers


def sign_in(page, key):
    """Signs in with the keyboard only: the field by its label, Enter to submit."""
    page.goto(BASE + "/console")
    field = page.get_by_label("API key")
    expect(field).to_be_visible()
    field.focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def page_fetch(page, path, method="GET", csrf=False, url=None):
    """A fetch from the page's own script context: the cookie goes along, the key never does."""
    return page.evaluate(
        """async ([url, method, csrf]) => {
            const headers = {};
            if (csrf) {
              const session = await (await fetch('/console/session')).json();
              headers['X-CSRF-Token'] = session.csrf_token;
            }
            try {
              const r = await fetch(url, {method, headers, credentials: 'include'});
              return {status: r.status, body: await r.text()};
            } catch (e) {
              return {status: 0, body: String(e)};
            }
        }""",
        [url or path, method, csrf],
    )


def no_horizontal_scroll(page, label):
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    check(width <= viewport, f"{label}: the page is {width}px wide in a {viewport}px viewport (horizontal scrolling)")


def send(page, prompt, policy=None):
    if policy:
        details = page.locator("details.options")
        if not details.evaluate("d => d.open"):
            page.get_by_text("Options").click()
        page.get_by_label("Ask before running commands").select_option(policy)
    page.get_by_label("Prompt").fill(prompt)
    send_button = page.get_by_role("button", name="Send")
    send_button.focus()
    page.keyboard.press("Enter")


def newest_conversation(page):
    listing = json.loads(page_fetch(page, "/conversations")["body"])
    return listing["conversations"][0]["conversation_id"] if listing["conversations"] else None


def usage_total(page):
    result = page_fetch(page, "/usage")
    if result["status"] != 200:
        return None
    body = json.loads(result["body"])
    return body["budget"]["used_today"]


def main():
    step("requests without the session, or from another origin, are refused")
    status, body, _ = http("GET", "/conversations")
    check(status == 401, f"GET /conversations without credentials: {status}")
    status, body, headers = http("POST", "/console/session", body={"api_key": KEY})
    check(status == 201, f"sign-in outside the browser: {status} {body}")
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    csrf = body["csrf_token"] if isinstance(body, dict) else ""
    status, _, _ = http("POST", "/ws/ticket", headers={"Cookie": cookie})
    check(status == 403, f"POST with the cookie and no CSRF token: {status}")
    status, _, _ = http("POST", "/ws/ticket", headers={"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    check(status == 403, f"POST with the cookie and the token from another origin: {status}")
    status, _, _ = http("GET", "/conversations", headers={"Cookie": cookie, "Origin": "https://evil.example"})
    check(status == 403, f"GET with the cookie from another origin: {status}")
    status, _, _ = http("POST", "/console/session", headers={"Origin": "https://evil.example"}, body={"api_key": KEY})
    check(status == 403, f"sign-in from another origin: {status}")
    status, _, _ = http("POST", "/console/session", body={"api_key": "sk-wrong-" + "0" * 40})
    check(status == 401, f"sign-in with a wrong key: {status}")

    with sync_playwright() as playwright:
        launched = time.monotonic()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        print(f"   chromium started in {time.monotonic() - launched:.1f}s: {browser.version}", flush=True)
        desktop = browser.new_context(viewport=DESKTOP)
        page = desktop.new_page()
        console_errors = []
        page.on("console", lambda message: message.type == "error" and "Failed to load resource" not in message.text and console_errors.append(message.text))

        step("sign in (keyboard only); the cookie is HttpOnly and SameSite=Strict; the key is kept nowhere")
        page.goto(BASE + "/console")
        expect(page.get_by_label("API key")).to_be_visible()
        page.screenshot(path=f"{ARTIFACTS}/desktop-sign-in.png")
        sign_in(page, KEY)
        cookies = desktop.cookies()
        check(len(cookies) == 1, f"one cookie: {cookies}")
        for c in cookies:
            check(c["httpOnly"] and c["sameSite"] == "Strict", f"cookie attributes: {c}")
            check(KEY not in c["value"], "the key is not the cookie")
        stored = page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href])")
        check(KEY not in stored, "the key is not in storage, readable cookies or the URL")
        check(page.get_by_label("API key").input_value() == "", "the key field is emptied")
        usage_before = usage_total(page)

        step("a new conversation: the answer streams in")
        page.evaluate(
            """() => {
              window.__texts = [];
              new MutationObserver(() => {
                const messages = document.querySelectorAll('#turns .message.assistant p');
                if (messages.length) window.__texts.push(messages[messages.length - 1].textContent);
              }).observe(document.getElementById('turns'), {subtree: true, childList: true, characterData: true});
            }"""
        )
        send(page, "Hello from the browser console")
        expect(page.locator("#turns")).to_contain_text("Echo: Hello from the browser console", timeout=60_000)
        expect(page.get_by_role("status").filter(has_text="Turn completed")).to_be_visible(timeout=30_000)
        texts = page.evaluate("() => window.__texts")
        partial = [t for t in texts if t and t != "Echo: Hello from the browser console"]
        check(len(partial) >= 1, f"the answer arrived in parts (saw {len(set(texts))} states: {sorted(set(texts))[:5]})")
        first_id = newest_conversation(page)
        check(first_id is not None, "the conversation is listed")
        conversations = page.get_by_role("list", name="Conversations")
        expect(conversations.get_by_role("button", name=re.compile(first_id))).to_be_visible()

        step("reload: the session survives, the conversation is in the list and opens with its history")
        page.reload()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        entry = conversations.get_by_role("button", name=re.compile(first_id))
        expect(entry).to_be_visible()
        entry.click()
        expect(page.locator("#turns")).to_contain_text("Echo: Hello from the browser console")
        expect(page.locator("#turns")).to_contain_text("Hello from the browser console")

        step("an approval raised by the agent is answered in the page; the file appears in the workspace")
        page.get_by_role("button", name="New conversation").click()
        send(page, "#fake-agent:command:echo approved-in-the-browser > approved.txt", policy="untrusted")
        approval = page.get_by_role("region", name="Approval")
        expect(approval).to_be_visible(timeout=60_000)
        expect(approval).to_contain_text("approved.txt")
        expect(approval.get_by_role("button", name="Decline")).to_be_visible()
        page.screenshot(path=f"{ARTIFACTS}/desktop-approval.png")
        approval.get_by_role("button", name="Approve").click()
        expect(approval).to_have_count(0, timeout=30_000)
        expect(page.get_by_role("status").filter(has_text="Turn completed")).to_be_visible(timeout=60_000)
        expect(page.locator("#turns")).to_contain_text("exit code 0")
        approval_id = newest_conversation(page)
        principal = json.loads(page_fetch(page, "/console/session")["body"])["principal_id"]
        written = os.path.join(WORKSPACES, principal, approval_id, "approved.txt")
        deadline = time.monotonic() + 10
        while not os.path.exists(written) and time.monotonic() < deadline:
            time.sleep(0.2)
        check(os.path.exists(written), f"{written} exists")
        if os.path.exists(written):
            check(open(written).read().strip() == "approved-in-the-browser", "the approved command wrote the file")
        page.screenshot(path=f"{ARTIFACTS}/desktop-conversation.png")

        step("a file change is shown as a diff (fake-codex: apply_patch adds hello.txt)")
        page.get_by_role("button", name="New conversation").click()
        send(page, "#fake-codex add hello.txt", policy="untrusted")
        status = page.locator("#conversation-status")
        deadline = time.monotonic() + 90
        approvals_answered = 0
        while time.monotonic() < deadline:
            text = status.text_content() or ""
            if "Turn completed" in text or "Turn failed" in text:
                break
            pending = page.get_by_role("region", name="Approval")
            if pending.count() > 0:
                pending.first.get_by_role("button", name="Approve").click()
                approvals_answered += 1
            time.sleep(0.3)
        expect(status).to_contain_text("Turn completed", timeout=5_000)
        diff = page.locator("#turns pre.diff")
        check(diff.count() >= 1, "a diff is shown")
        if diff.count():
            check("hello from fake-openai" in (diff.first.text_content() or ""), f"the diff shows the new file: {diff.first.text_content()!r}")
        print(f"   {approvals_answered} approval(s) answered", flush=True)
        page.screenshot(path=f"{ARTIFACTS}/desktop-diff.png")

        step("a long turn (sleep 60) is interrupted from the page")
        page.get_by_role("button", name="New conversation").click()
        send(page, "#fake-agent:sleep", policy="never")
        interrupt = page.get_by_role("button", name="Interrupt")
        expect(page.locator("#turns")).to_contain_text("sleep 60", timeout=60_000)
        expect(interrupt).to_be_enabled()
        clicked = time.monotonic()
        interrupt.click()
        expect(page.locator("#conversation-status")).to_contain_text(re.compile("Turn failed|cancel|interrupt", re.I), timeout=30_000)
        check(time.monotonic() - clicked < 30, "the turn stopped well before the command's 60 s")
        expect(interrupt).to_be_disabled()

        step("usage")
        page.get_by_role("link", name="Usage").click()
        expect(page.get_by_role("heading", name="Usage")).to_be_visible()
        usage_box = page.locator("#usage")
        expect(usage_box).not_to_contain_text("Loading usage", timeout=10_000)
        if usage_before is None:
            expect(usage_box).to_contain_text("Usage not available")
            print("   GET /usage answered 404: the page says usage is not available", flush=True)
        else:
            usage_after = usage_total(page)
            check(usage_after is not None and usage_after > usage_before, f"usage grew: {usage_before} → {usage_after}")
            print(f"   tokens used today: {usage_before} before the turns, {usage_after} after", flush=True)
            expect(usage_box).to_contain_text("Left today")
            expect(usage_box).to_contain_text(f"{100000 - usage_after:,} of 100,000 tokens left")
        page.screenshot(path=f"{ARTIFACTS}/desktop-usage.png")
        no_horizontal_scroll(page, "desktop usage")
        page.get_by_role("link", name="Chat").click()
        entry = conversations.get_by_role("button", name=re.compile(approval_id))
        entry.click()
        expect(page.locator("#turns")).to_contain_text("approved-in-the-browser", timeout=10_000)
        no_horizontal_scroll(page, "desktop")

        step("phone size (390x844): usable without horizontal scrolling")
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        small = phone.new_page()
        sign_in(small, KEY)
        no_horizontal_scroll(small, "phone, signed in")
        small.get_by_role("list", name="Conversations").get_by_role("button", name=re.compile(approval_id)).click()
        expect(small.locator("#turns")).to_contain_text("approved-in-the-browser", timeout=10_000)
        small.get_by_label("Prompt").fill("What did you write?")
        no_horizontal_scroll(small, "phone, a conversation")
        small.evaluate("() => window.scrollTo(0, 0)")
        small.screenshot(path=f"{ARTIFACTS}/phone-conversation.png")
        small.get_by_role("link", name="Usage").click()
        expect(small.get_by_role("heading", name="Usage")).to_be_visible()
        expect(small.locator("#usage")).not_to_contain_text("Loading usage", timeout=10_000)
        no_horizontal_scroll(small, "phone, usage")
        small.screenshot(path=f"{ARTIFACTS}/phone-usage.png")
        phone.close()

        step("a second key sees none of the first key's conversations")
        other = browser.new_context(viewport=DESKTOP)
        second = other.new_page()
        sign_in(second, SECOND_KEY)
        expect(second.get_by_text("No conversations yet.")).to_be_visible(timeout=10_000)
        check(second.get_by_role("list", name="Conversations").get_by_role("button").count() == 0, "the second key's list is empty")
        for conversation in (first_id, approval_id):
            result = page_fetch(second, f"/conversations/{conversation}")
            check(result["status"] == 404, f"the second key reading {conversation}: {result['status']}")
        other.close()

        step("another origin's page cannot use the session (SameSite=Strict, the Origin rule)")
        foreign = desktop.new_page()
        foreign_base = BASE.replace("127.0.0.1", "localhost")
        foreign.goto(foreign_base + "/console")
        result = page_fetch(foreign, "", url=BASE + "/conversations")
        check(result["status"] in (0, 401, 403), f"a fetch from {foreign_base} with credentials: {result}")
        foreign.close()

        step("sign out ends the session on the server")
        cookie_value = desktop.cookies()[0]["value"]
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("API key")).to_be_visible()
        check(desktop.cookies() == [], "the cookie is gone")
        result = page_fetch(page, "/conversations")
        check(result["status"] == 401, f"after sign-out: {result['status']}")
        status, _, _ = http("GET", "/conversations", headers={"Cookie": f"cgw_console={cookie_value}"})
        check(status == 401, f"the old cookie replayed: {status}")
        check(not console_errors, f"no errors in the page's console: {console_errors}")
        browser.close()

    print(f"browser steps: {time.monotonic() - started:.1f}s")
    if failures:
        print(f"{len(failures)} check(s) failed:")
        for failure in failures:
            print(f"  - {failure}")
        sys.exit(1)


if __name__ == "__main__":
    main()
