// Codex Gateway console: a plain ES module, no build step, nothing fetched but the gateway's own API.
//
// It uses the API every client uses (README: Console): the session cookie (HttpOnly, set by
// POST /console/session) authenticates each request like X-API-Key; every request that is not a GET
// carries the session's CSRF token in X-CSRF-Token. The API key is sent once, to sign in, and kept
// nowhere (not in storage, cookies or the URL). Turns stream over GET /ws (a ticket from
// POST /ws/ticket), approvals are answered with POST /approvals/{id}, history comes from JSON-RPC
// conversation.history, usage from GET /usage.

const $ = (id) => document.getElementById(id);

const state = {
  csrf: null,
  principal: null,
  conversationId: null, // the one shown; null: a new conversation
  socket: null,
  socketReady: null,
  nextRequest: 1,
  requests: new Map(), // exec request id → {conversationId, turn element, items}
  running: new Set(), // conversation ids with a turn running from this page
  approvals: new Map(), // approval id → approval
};

// ---------------------------------------------------------------------------------------------
// HTTP

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    if (state.csrf) headers['X-CSRF-Token'] = state.csrf;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await response.text();
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = null; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && path !== '/console/session') signedOut('Your session has ended; sign in again.');
    throw error;
  }
  return parsed;
}

async function jsonRPC(method, params) {
  const reply = await api('/jsonrpc', { method: 'POST', body: { jsonrpc: '2.0', id: 1, method, params } });
  if (reply.error) throw new ApiError(200, { error: reply.error.message });
  return reply.result;
}

// ---------------------------------------------------------------------------------------------
// Views

function show(view) {
  $('loading').hidden = true;
  $('sign-in-view').hidden = view !== 'sign-in';
  $('chat-view').hidden = view !== 'chat';
  $('usage-view').hidden = view !== 'usage';
  $('nav').hidden = view === 'sign-in';
  for (const link of [$('conversations-link'), $('usage-link')]) link.removeAttribute('aria-current');
  if (view === 'chat') $('conversations-link').setAttribute('aria-current', 'page');
  if (view === 'usage') $('usage-link').setAttribute('aria-current', 'page');
}

function route() {
  if (!state.csrf) return;
  if (location.hash === '#usage') {
    show('usage');
    loadUsage();
  } else {
    show('chat');
  }
}

function signedOut(message) {
  state.csrf = null;
  state.principal = null;
  closeSocket();
  $('sign-in-error').textContent = message || '';
  show('sign-in');
  $('api-key').focus();
}

function signedIn(session) {
  state.csrf = session.csrf_token;
  state.principal = session.principal_id;
  $('who').textContent = `Key ${session.principal_id}`;
  $('sign-in-error').textContent = '';
  route();
  loadConversations();
  if (state.conversationId) openConversation(state.conversationId);
}

// ---------------------------------------------------------------------------------------------
// Sign in and out

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const field = $('api-key');
  const key = field.value.trim();
  if (!key) {
    $('sign-in-error').textContent = 'Enter an API key.';
    field.focus();
    return;
  }
  try {
    const session = await api('/console/session', { method: 'POST', body: { api_key: key } });
    field.value = '';
    signedIn(session);
    $('prompt').focus();
  } catch (error) {
    field.value = '';
    $('sign-in-error').textContent = error.status === 401 ? 'That API key is not valid.' : error.message;
    field.focus();
  }
});

$('sign-out').addEventListener('click', async () => {
  try {
    await api('/console/session', { method: 'DELETE' });
  } catch {
    // Signed out either way: the session is gone or was already.
  }
  state.conversationId = null;
  $('conversations').replaceChildren();
  clearConversation();
  signedOut('Signed out.');
});

window.addEventListener('hashchange', route);

// ---------------------------------------------------------------------------------------------
// Conversations

/** The end of a conversation id: ids are UUIDv7, whose start is a timestamp shared by neighbours. */
function shortId(id) {
  return id.length > 13 ? `…${id.slice(-12)}` : id;
}

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

async function loadConversations() {
  let page;
  try {
    page = await api('/conversations?limit=50');
  } catch (error) {
    if (error.status !== 401) $('conversation-status').textContent = `Could not list conversations: ${error.message}`;
    return;
  }
  const list = $('conversations');
  list.replaceChildren();
  for (const conversation of page.conversations) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.id = conversation.conversation_id;
    const running = conversation.status === 'running' ? ', running' : '';
    const turns = `${conversation.turns} turn${conversation.turns === 1 ? '' : 's'}`;
    button.append(`Conversation ${shortId(conversation.conversation_id)}`);
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = `${when(conversation.updated_at)} · ${turns}${running}`;
    button.append(meta);
    button.setAttribute('aria-label', `Conversation ${conversation.conversation_id}, ${turns}${running}, updated ${when(conversation.updated_at)}`);
    if (conversation.conversation_id === state.conversationId) button.setAttribute('aria-current', 'true');
    button.addEventListener('click', () => {
      location.hash = '#conversations';
      openConversation(conversation.conversation_id);
    });
    item.append(button);
    list.append(item);
  }
  $('conversations-empty').hidden = page.conversations.length > 0;
}

function markCurrent() {
  for (const button of $('conversations').querySelectorAll('button')) {
    if (button.dataset.id === state.conversationId) button.setAttribute('aria-current', 'true');
    else button.removeAttribute('aria-current');
  }
}

function clearConversation() {
  $('turns').replaceChildren();
  $('approvals').replaceChildren();
  state.approvals.clear();
  $('conversation-status').textContent = '';
  $('prompt-error').textContent = '';
  $('conversation-title').textContent = 'New conversation';
  updateInterrupt();
}

$('new-conversation').addEventListener('click', () => {
  state.conversationId = null;
  clearConversation();
  markCurrent();
  location.hash = '#conversations';
  $('prompt').focus();
});

async function openConversation(id) {
  state.conversationId = id;
  clearConversation();
  markCurrent();
  $('conversation-title').textContent = `Conversation ${shortId(id)}`;
  try {
    const history = await jsonRPC('conversation.history', { conversation_id: id });
    if (state.conversationId !== id) return;
    for (const message of history.messages) {
      const turn = message.role === 'user' ? newTurn(message.content) : lastTurn() || newTurn(null);
      if (message.role === 'assistant') addMessage(turn, message.content);
    }
  } catch (error) {
    if (error.status !== 401) $('conversation-status').textContent = `Could not load the conversation: ${error.message}`;
    return;
  }
  try {
    // The last turn's steps (commands, file changes), which the history of messages leaves out.
    const conversation = await api(`/conversations/${encodeURIComponent(id)}`);
    const turn = lastTurn();
    if (state.conversationId === id && turn) {
      const answer = turn.querySelector('.message.assistant');
      for (const item of conversation.items || []) {
        if (item.type === 'agent_message') continue;
        const element = document.createElement('div');
        renderItem(element, item);
        turn.insertBefore(element, answer);
      }
      if (conversation.status === 'failed' && conversation.error) setStatus(`The last turn failed: ${conversation.error}`);
      if ((conversation.status === 'running' || conversation.status === 'waiting_for_approval') && !state.running.has(id)) {
        // A turn this page did not start (another tab, client or protocol): it can still be
        // interrupted, and the conversation is shown again once it ends.
        setStatus('A turn is running.');
        followTurn(id);
      }
    }
  } catch {
    // The messages are shown; the steps are a bonus.
  }
  try {
    const pending = await api(`/approvals?conversation_id=${encodeURIComponent(id)}`);
    if (state.conversationId === id) for (const approval of pending.approvals) showApproval(approval);
  } catch {
    // Shown by the socket's watch too.
  }
  watch(id);
  updateInterrupt();
}

// ---------------------------------------------------------------------------------------------
// Turns and items

function lastTurn() {
  return $('turns').lastElementChild;
}

function newTurn(prompt) {
  const turn = document.createElement('li');
  turn.className = 'turn';
  if (prompt !== null) turn.append(messageBox('message user', 'You', prompt));
  $('turns').append(turn);
  return turn;
}

function addMessage(turn, content) {
  const box = messageBox('message assistant', 'Agent', content);
  turn.append(box);
  return box;
}

/** A message: who says it (`You`, `Agent`) and what. */
function messageBox(className, who, content) {
  const box = document.createElement('div');
  const role = document.createElement('span');
  role.className = 'role';
  labelledText(box, className, role, who, content);
  return box;
}

/** Fills `element` with `label` (saying `title`) and a paragraph of `text`: a message, reasoning, an error. */
function labelledText(element, className, label, title, text) {
  element.className = className;
  label.textContent = title;
  const paragraph = document.createElement('p');
  paragraph.textContent = text || '';
  element.append(label, paragraph);
}

/** Renders one exec item (PROTOCOLS.md §10 shapes) into `element`, replacing what it showed. */
function renderItem(element, item) {
  element.replaceChildren();
  const label = document.createElement('span');
  label.className = 'label';
  switch (item.type) {
    case 'agent_message':
      label.className = 'role';
      labelledText(element, 'message assistant', label, 'Agent', item.text);
      return;
    case 'reasoning':
      labelledText(element, 'item reasoning', label, 'Reasoning', item.text);
      return;
    case 'command_execution': {
      element.className = 'item command';
      const status = item.status === 'in_progress' ? 'running' : item.status;
      const exit = item.exit_code === undefined || item.exit_code === null ? '' : `, exit code ${item.exit_code}`;
      label.textContent = `Command (${status}${exit})`;
      const command = document.createElement('pre');
      command.textContent = `$ ${item.command}`;
      element.append(label, command);
      if (item.aggregated_output) {
        const output = document.createElement('pre');
        output.className = 'output';
        output.setAttribute('aria-label', 'Output');
        output.textContent = item.aggregated_output;
        element.append(output);
      }
      return;
    }
    case 'file_change': {
      element.className = 'item file-change';
      label.textContent = `File changes (${item.status || 'proposed'})`;
      element.append(label, changesList(item.changes || []));
      return;
    }
    case 'todo_list': {
      element.className = 'item todo';
      label.textContent = 'Plan';
      const list = document.createElement('ul');
      for (const entry of item.items || []) {
        const li = document.createElement('li');
        li.textContent = `${entry.completed ? '[done] ' : '[ ] '}${entry.text}`;
        list.append(li);
      }
      element.append(label, list);
      return;
    }
    case 'error':
      labelledText(element, 'item error-item', label, 'Error', item.message);
      return;
    default: {
      element.className = 'item';
      label.textContent = item.type;
      const text = document.createElement('pre');
      text.textContent = JSON.stringify(item, null, 2);
      element.append(label, text);
    }
  }
}

function changesList(changes) {
  const box = document.createElement('div');
  for (const change of changes) {
    const title = document.createElement('p');
    title.textContent = `${change.kind}: ${change.path}`;
    box.append(title);
    if (change.diff) {
      const diff = document.createElement('pre');
      diff.className = 'diff';
      diff.setAttribute('aria-label', `Diff of ${change.path}`);
      diff.textContent = change.diff;
      box.append(diff);
    }
  }
  return box;
}

function setStatus(text) {
  $('conversation-status').textContent = text;
}

function updateInterrupt() {
  $('interrupt').disabled = !(state.conversationId && state.running.has(state.conversationId));
}

/** Polls GET /conversations/{id} every 2 s while its turn runs, then shows the outcome. */
async function followTurn(id) {
  state.running.add(id);
  updateInterrupt();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (!state.csrf) return;
    let conversation;
    try {
      conversation = await api(`/conversations/${encodeURIComponent(id)}`);
    } catch {
      break;
    }
    if (conversation.status !== 'running' && conversation.status !== 'waiting_for_approval') break;
  }
  state.running.delete(id);
  updateInterrupt();
  loadConversations();
  if (state.conversationId === id) openConversation(id);
}

// ---------------------------------------------------------------------------------------------
// Approvals

function showApproval(approval) {
  if (approval.conversation_id !== state.conversationId) return;
  if (state.approvals.has(approval.id)) return;
  state.approvals.set(approval.id, approval);
  const region = document.createElement('section');
  region.setAttribute('aria-label', 'Approval');
  region.dataset.id = approval.id;
  const title = document.createElement('h3');
  title.textContent = approval.kind === 'command_execution' ? 'The agent asks to run a command' : 'The agent asks to change files';
  region.append(title);
  if (approval.command) {
    const command = document.createElement('pre');
    command.textContent = `$ ${approval.command}`;
    region.append(command);
  }
  if (approval.cwd) {
    const cwd = document.createElement('p');
    cwd.textContent = `In ${approval.cwd}`;
    region.append(cwd);
  }
  if (approval.changes) region.append(changesList(approval.changes));
  if (approval.reason) {
    const reason = document.createElement('p');
    reason.textContent = `Reason: ${approval.reason}`;
    region.append(reason);
  }
  const actions = document.createElement('div');
  actions.className = 'actions';
  for (const [label, decision] of [['Approve', 'accept'], ['Decline', 'decline']]) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = label;
    button.addEventListener('click', () => answerApproval(approval.id, decision, region));
    actions.append(button);
  }
  region.append(actions);
  $('approvals').append(region);
  setStatus('Waiting for your approval.');
}

async function answerApproval(id, decision, region) {
  for (const button of region.querySelectorAll('button')) button.disabled = true;
  try {
    await api(`/approvals/${encodeURIComponent(id)}`, { method: 'POST', body: { decision } });
    removeApproval(id);
    setStatus(decision === 'accept' ? 'Approved; the agent goes on.' : 'Declined; the agent is told.');
  } catch (error) {
    if (error.status === 404 || error.status === 409) {
      removeApproval(id);
      setStatus('That approval was already answered or has expired.');
    } else {
      for (const button of region.querySelectorAll('button')) button.disabled = false;
      setStatus(`Could not answer: ${error.message}`);
    }
  }
}

function removeApproval(id) {
  state.approvals.delete(id);
  const region = $('approvals').querySelector(`section[data-id="${CSS.escape(id)}"]`);
  if (region) region.remove();
}

// ---------------------------------------------------------------------------------------------
// The WebSocket (GET /ws with a ticket from POST /ws/ticket)

function closeSocket() {
  if (state.socket) state.socket.close(1000);
  state.socket = null;
  state.socketReady = null;
}

function socket() {
  if (state.socketReady) return state.socketReady;
  state.socketReady = (async () => {
    const { ticket } = await api('/ws/ticket', { method: 'POST' });
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', () => reject(new Error('the WebSocket did not open')), { once: true });
    });
    ws.addEventListener('message', (message) => onFrame(message.data));
    ws.addEventListener('close', () => {
      if (state.socket === ws) {
        state.socket = null;
        state.socketReady = null;
        for (const [id, request] of state.requests) finishRequest(id, request, 'The connection closed; reload to see how the turn ended.');
      }
    });
    state.socket = ws;
    return ws;
  })();
  state.socketReady.catch(() => {
    state.socketReady = null;
  });
  return state.socketReady;
}

async function sendFrame(frame) {
  const ws = await socket();
  ws.send(JSON.stringify(frame));
}

async function watch(conversationId) {
  try {
    await sendFrame({ type: 'watch', conversation_id: conversationId });
  } catch {
    // Approvals were listed over REST already.
  }
}

function onFrame(data) {
  let frame;
  try { frame = JSON.parse(data); } catch { return; }
  switch (frame.type) {
    case 'event': onEvent(frame.id, frame.event); break;
    case 'approval_request': showApproval(frame.approval); break;
    case 'ack':
      if (frame.message === 'cancelled' && frame.conversation_id === state.conversationId) setStatus('Interrupted.');
      break;
    case 'error': {
      const request = frame.id && state.requests.get(frame.id);
      if (request) finishRequest(frame.id, request, `Error: ${frame.message}`);
      else setStatus(`Error: ${frame.message}`);
      break;
    }
    default: break;
  }
}

function onEvent(requestId, event) {
  if (event.type === 'approval.resolved') {
    removeApproval(event.approval.id);
    return;
  }
  if (event.type === 'approval.requested') {
    showApproval(event.approval);
    return;
  }
  const request = requestId && state.requests.get(requestId);
  if (!request) return;
  const visible = () => request.conversationId === state.conversationId;
  switch (event.type) {
    case 'thread.started':
      if (!request.conversationId) {
        request.conversationId = event.thread_id;
        if (state.conversationId === null && request.pendingNew) {
          state.conversationId = event.thread_id;
          $('conversation-title').textContent = `Conversation ${shortId(event.thread_id)}`;
        }
        state.running.add(event.thread_id);
        updateInterrupt();
        loadConversations();
      }
      break;
    case 'turn.started':
      if (visible()) setStatus('The agent is working…');
      break;
    case 'item.started':
    case 'item.updated':
    case 'item.completed': {
      if (!visible() || !request.turn.isConnected) break;
      let element = request.items.get(event.item.id);
      if (!element) {
        element = document.createElement('div');
        element.dataset.item = event.item.id;
        request.items.set(event.item.id, element);
        request.turn.append(element);
      }
      renderItem(element, event.item);
      break;
    }
    case 'turn.completed': {
      const usage = event.usage;
      const tokens = usage ? ` (${usage.input_tokens} tokens in, ${usage.output_tokens} out)` : '';
      finishRequest(requestId, request, `Turn completed${tokens}.`);
      break;
    }
    case 'turn.failed':
      finishRequest(requestId, request, `Turn failed: ${(event.error && event.error.message) || 'unknown error'}`);
      break;
    case 'error':
      if (visible()) setStatus(event.message);
      break;
    default:
      break;
  }
}

function finishRequest(id, request, message) {
  state.requests.delete(id);
  if (request.conversationId) state.running.delete(request.conversationId);
  if (request.conversationId === state.conversationId || (request.pendingNew && state.conversationId === null)) {
    setStatus(message);
  }
  updateInterrupt();
  loadConversations();
}

// ---------------------------------------------------------------------------------------------
// Prompt, send, interrupt

$('prompt-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const prompt = $('prompt').value;
  $('prompt-error').textContent = '';
  if (!prompt.trim()) {
    $('prompt-error').textContent = 'Write a prompt first.';
    $('prompt').focus();
    return;
  }
  if (state.conversationId && state.running.has(state.conversationId)) {
    $('prompt-error').textContent = 'A turn is still running here: wait for it or interrupt it.';
    return;
  }
  const id = `console-${state.nextRequest++}`;
  const frame = { type: 'exec', id, prompt };
  if (state.conversationId) frame.conversation_id = state.conversationId;
  const model = $('model').value.trim();
  if (model) frame.model = model;
  const policy = $('approval-policy').value;
  if (policy) frame.approval_policy = policy;
  const turn = newTurn(prompt);
  const request = { conversationId: state.conversationId, pendingNew: !state.conversationId, turn, items: new Map() };
  state.requests.set(id, request);
  if (state.conversationId) state.running.add(state.conversationId);
  updateInterrupt();
  setStatus('Sending…');
  try {
    await sendFrame(frame);
    $('prompt').value = '';
  } catch (error) {
    finishRequest(id, request, '');
    $('prompt-error').textContent = `Could not send: ${error.message}`;
  }
});

$('interrupt').addEventListener('click', async () => {
  const id = state.conversationId;
  if (!id) return;
  try {
    await sendFrame({ type: 'interrupt', conversation_id: id });
    setStatus('Interrupting…');
  } catch (error) {
    setStatus(`Could not interrupt: ${error.message}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Usage (GET /usage)

function cell(row, text, header = false) {
  const element = document.createElement(header ? 'th' : 'td');
  element.textContent = text;
  row.append(element);
}

function budgetLeft(limit, used) {
  if (limit === null || limit === undefined) return 'no budget';
  return `${Math.max(0, limit - used).toLocaleString()} of ${limit.toLocaleString()} tokens left`;
}

async function loadUsage() {
  const box = $('usage');
  box.replaceChildren();
  const loading = document.createElement('p');
  loading.setAttribute('role', 'status');
  loading.textContent = 'Loading usage…';
  box.append(loading);
  let usage;
  try {
    usage = await api('/usage');
  } catch (error) {
    const message = document.createElement('p');
    message.setAttribute('role', 'status');
    message.id = 'usage-unavailable';
    message.textContent = error.status === 404
      ? 'Usage not available: this gateway does not record usage (GET /usage answered 404).'
      : `Could not load usage: ${error.message}`;
    box.replaceChildren(message);
    return;
  }
  const budget = usage.budget || {};
  const summary = document.createElement('dl');
  summary.className = 'budget';
  summary.setAttribute('aria-label', 'Budget');
  const facts = [
    ['Used today', `${(budget.used_today ?? 0).toLocaleString()} tokens`],
    ['Left today', budgetLeft(budget.tokens_per_day, budget.used_today ?? 0)],
    ['Used this month', `${(budget.used_this_month ?? 0).toLocaleString()} tokens`],
    ['Left this month', budgetLeft(budget.tokens_per_month, budget.used_this_month ?? 0)],
    ['Resets', budget.resets_at ? when(budget.resets_at) : '—'],
    ['Models allowed', usage.models_allowed ? usage.models_allowed.join(', ') : 'any'],
  ];
  for (const [term, value] of facts) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    summary.append(dt, dd);
  }
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  const table = document.createElement('table');
  const caption = document.createElement('caption');
  caption.textContent = 'Tokens by day and model';
  table.append(caption);
  const head = document.createElement('tr');
  for (const title of ['Date', 'Model', 'Requests', 'Input', 'Cached', 'Output']) cell(head, title, true);
  const thead = document.createElement('thead');
  thead.append(head);
  const tbody = document.createElement('tbody');
  for (const entry of usage.usage || []) {
    const row = document.createElement('tr');
    for (const value of [entry.date, entry.model, entry.requests, entry.input_tokens, entry.cached_input_tokens, entry.output_tokens]) {
      cell(row, typeof value === 'number' ? value.toLocaleString() : String(value));
    }
    tbody.append(row);
  }
  table.append(thead, tbody);
  wrap.append(table);
  box.replaceChildren(summary, wrap);
  if (!(usage.usage || []).length) {
    const none = document.createElement('p');
    none.className = 'muted';
    none.textContent = 'No model calls recorded yet.';
    box.append(none);
  }
}

// ---------------------------------------------------------------------------------------------
// Start: is there a session already (the cookie survives a reload)?

(async () => {
  try {
    const session = await api('/console/session');
    signedIn(session);
  } catch {
    signedOut('');
  }
})();
