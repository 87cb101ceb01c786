// The JSON-mode connection (subprotocol vmgate.v1) with resuming, as
// docs/protocol.md ("Resuming a session") specifies: `hello` carries a resume
// token and the grace period, every other server frame a `seq`. After a drop
// the client reconnects with `resume=<token>&last=<highest seq seen>` and gets
// `resumed`, then the frames it missed. `resumed` carries a new resume token:
// the one just used no longer works. Frames are applied once: a frame whose
// seq is not above the last one seen is a duplicate and dropped.
//
// The resume state is also kept in sessionStorage, so reloading the page (the
// browser closes the socket with 1001, which detaches the session) picks the
// same session up again.

import { CLOSE_CODES, SUBPROTOCOL } from './protocol.js';

export { SUBPROTOCOL };

/**
 * The access token travels as a second offered subprotocol, not in the URL:
 * proxies and servers log URLs, not this header. The gateway never selects it.
 */
const BEARER_PREFIX = 'vmgate.bearer.';
const STORE_KEY = 'vmgate.resume';

/** Close codes after which the session is over (the server closed it): no point in resuming. */
const ENDED = {
  [CLOSE_CODES.normal]: 'the server closed the session',
  [CLOSE_CODES.goingAway]: 'the server is shutting down',
  [CLOSE_CODES.policy]: 'the console did not read its frames fast enough',
  [CLOSE_CODES.tooBig]: 'a frame was larger than the limit',
  [CLOSE_CODES.internal]: 'internal server error',
  [CLOSE_CODES.idle]: 'the session was idle too long',
  [CLOSE_CODES.lifetime]: 'the session reached its maximum lifetime',
};
/** Close codes of a refused resume. */
const REFUSED = {
  [CLOSE_CODES.resumeForbidden]: 'the session belongs to another user',
  [CLOSE_CODES.resumeNotFound]:
    'no such session (the grace period ended: it was closed and its transaction rolled back)',
  [CLOSE_CODES.resumeConflict]: 'the session is attached to another connection (another tab?)',
  [CLOSE_CODES.resumeGone]: 'the session ended',
};

export class Connection {
  /**
   * @param {object} options
   * @param {string} options.url the WebSocket URL (no query)
   * @param {(type: string, detail: object) => void} options.onEvent
   *   `status` { state, text }, `hello` { hello, resumedFromReload }, `resumed` { frame, dropMs },
   *   `frame` { frame }, `lost` { code, reason, text }, `failed` { first }
   */
  constructor({ url, onEvent, storage = globalThis.sessionStorage }) {
    this.url = url;
    this.onEvent = onEvent;
    this.storage = storage;
    this.token = '';
    this.ws = null;
    this.state = 'idle';
    this.hello = null;
    this.session = null;
    this.resume = null; // { token, graceMs } from hello
    this.lastSeq = 0;
    this.droppedAt = 0;
    this.attempt = 0;
    this.retryTimer = 0;
    this.probeTimer = 0;
    this.everConnected = false;
    this.pageResume = false;
    this.stats = { duplicates: 0, resumes: 0 };
    globalThis.addEventListener?.('online', () => this.#onOnline());
    globalThis.addEventListener?.('pagehide', () => this.#save());
    globalThis.document?.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.#save();
      else this.probe();
    });
  }

  /** Opens the connection: resumes the session of an earlier page load when there is one, else a new session. */
  start() {
    const saved = this.#load();
    if (saved) {
      this.session = saved.session;
      this.hello = saved.hello ?? null;
      this.resume = { token: saved.token, graceMs: saved.graceMs };
      this.lastSeq = saved.lastSeq;
      this.droppedAt = saved.at;
      this.pageResume = true;
      this.#open(true);
    } else this.#open(false);
  }

  /** Ends this session (close 1000: the server rolls back) and opens a new one. */
  newSession() {
    this.#forget();
    this.#closeSocket(CLOSE_CODES.normal, 'new session');
    this.hello = null;
    this.session = null;
    this.resume = null;
    this.lastSeq = 0;
    this.#open(false);
  }

  /** Tries again now (after a failed connect, or with a new token). */
  retry() {
    if (this.state === 'open' || this.state === 'connecting') return;
    clearTimeout(this.retryTimer);
    this.#open(this.state === 'reconnecting');
  }

  get connected() {
    return this.state === 'open';
  }

  send(frame) {
    if (this.state !== 'open') return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Checks that the connection is alive (after the machine slept, the network
   * changed...): a ping that is not answered within `ms` counts as a drop.
   */
  probe(ms = 5000) {
    if (this.state !== 'open' || this.probeTimer) return;
    const ws = this.ws;
    this.send({ op: 'ping', id: `probe:${Date.now()}` });
    this.probeTimer = setTimeout(() => {
      this.probeTimer = 0;
      if (this.ws === ws && this.state === 'open') this.#dropped(ws, 'no answer to a ping');
    }, ms);
  }

  /** For tests and debugging: what the console knows about the session. */
  snapshot() {
    return { state: this.state, session: this.session, lastSeq: this.lastSeq, resume: this.resume, ...this.stats };
  }

  #open(resuming) {
    clearTimeout(this.retryTimer);
    const params = new URLSearchParams();
    const protocols = this.token ? [SUBPROTOCOL, BEARER_PREFIX + base64url(this.token)] : [SUBPROTOCOL];
    if (resuming && this.resume) {
      params.set('resume', this.resume.token);
      params.set('last', String(this.lastSeq));
    }
    const query = params.toString();
    this.#setState(resuming ? 'reconnecting' : 'connecting', resuming ? this.#reconnectText() : 'Connecting…');
    let ws;
    try {
      ws = new WebSocket(query ? `${this.url}?${query}` : this.url, protocols);
    } catch (error) {
      this.#setState('failed', `Cannot connect: ${error.message}`);
      this.onEvent('failed', { first: !this.everConnected });
      return;
    }
    this.ws = ws;
    let opened = false;
    let greeted = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (this.probeTimer) {
        clearTimeout(this.probeTimer);
        this.probeTimer = 0;
      }
      if (!greeted) {
        greeted = true;
        if (frame.type === 'resumed') return this.#onResumed(frame);
        if (frame.type === 'hello') return this.#onHello(frame, resuming);
      }
      this.#onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.#onClose(ws, event, { opened, greeted, resuming });
    };
  }

  #onHello(hello, resuming) {
    const wasResuming = resuming && this.resume !== null;
    const previous = this.session;
    this.hello = hello;
    this.session = hello.session;
    this.resume = hello.resume && hello.resume.graceMs > 0 ? hello.resume : null;
    this.lastSeq = typeof hello.seq === 'number' ? hello.seq : 0;
    this.attempt = 0;
    this.droppedAt = 0;
    this.everConnected = true;
    this.pageResume = false;
    this.#save();
    this.#setState('open', 'Connected');
    if (wasResuming) {
      // The gateway ignored the resume request (it does not resume sessions).
      this.onEvent('lost', {
        code: 0,
        reason: '',
        text: `the gateway does not resume sessions: session ${short(previous)} is gone and this is a new one`,
        replaced: true,
      });
    }
    this.onEvent('hello', { hello });
  }

  #onResumed(frame) {
    const dropMs = this.droppedAt ? Date.now() - this.droppedAt : 0;
    const fromReload = this.pageResume;
    this.session = frame.session ?? this.session;
    if (frame.resume && typeof frame.resume.token === 'string' && this.resume) {
      this.resume = { token: frame.resume.token, graceMs: this.resume.graceMs };
    }
    this.attempt = 0;
    this.droppedAt = 0;
    this.everConnected = true;
    this.pageResume = false;
    this.stats.resumes++;
    this.#save(); // a reload must present the new token
    this.#setState('open', 'Connected');
    this.onEvent('resumed', { frame, dropMs, fromReload });
  }

  #onFrame(frame) {
    if (typeof frame.seq === 'number') {
      if (frame.seq <= this.lastSeq) {
        this.stats.duplicates++;
        return; // already applied (a replay overlapping what arrived before the drop)
      }
      this.lastSeq = frame.seq;
    }
    if (frame.type === 'pong' && typeof frame.id === 'string' && frame.id.startsWith('probe:')) return;
    this.onEvent('frame', { frame });
  }

  #onClose(ws, event, { opened, greeted, resuming }) {
    const { code, reason } = event;
    if (resuming && !greeted && REFUSED[code]) {
      // An accepted socket closed at once: the resume was refused.
      this.ws = null;
      const text = reason || REFUSED[code];
      if (code === CLOSE_CODES.resumeConflict && !this.pageResume) {
        // The gateway has not yet noticed that the old socket is dead: try again while the grace period lasts.
        return this.#dropped(ws, 'the gateway still holds the old connection');
      }
      if (this.pageResume) {
        // The session of an earlier page load is gone (or open in another tab): start a new one.
        this.#forget();
        this.resume = null;
        this.session = null;
        this.pageResume = false;
        this.onEvent('lost', { code, reason, text: `could not resume the previous session: ${text}`, replaced: true });
        this.#open(false);
        return;
      }
      return this.#lose(code, reason, text);
    }
    if (greeted && ENDED[code]) {
      this.ws = null;
      return this.#lose(code, reason, reason ? `${ENDED[code]} (${reason})` : ENDED[code]);
    }
    if (!opened && !resuming) {
      // A refused upgrade (401, 403, 429, 503) looks like this in a browser, as does a gateway that is down.
      this.ws = null;
      this.#setState('failed', 'Cannot connect');
      this.onEvent('failed', { first: !this.everConnected });
      return;
    }
    this.#dropped(ws, `connection dropped (code ${code}${reason ? `: ${reason}` : ''})`);
  }

  /** The socket is gone but the session may live on: reconnect and resume within the grace period. */
  #dropped(ws, why) {
    if (this.ws === ws) this.#closeSocket(4000, 'dropped by the client');
    this.ws = null;
    clearTimeout(this.probeTimer);
    this.probeTimer = 0;
    if (!this.resume) {
      return this.#lose(0, '', `${why}; this gateway does not resume sessions, so the session ended`);
    }
    if (!this.droppedAt) this.droppedAt = Date.now();
    const left = this.droppedAt + this.resume.graceMs - Date.now();
    if (left <= 0) {
      return this.#lose(
        CLOSE_CODES.resumeNotFound,
        '',
        `could not reconnect within the grace period (${Math.round(this.resume.graceMs / 1000)} s): the session was closed and its transaction rolled back`,
      );
    }
    const delay = Math.min(250 * 2 ** this.attempt, 4000, Math.max(left - 50, 0));
    this.attempt++;
    this.#setState('reconnecting', this.#reconnectText());
    this.retryTimer = setTimeout(() => this.#open(true), delay);
  }

  #onOnline() {
    if (this.state === 'reconnecting' && !this.ws) {
      clearTimeout(this.retryTimer);
      this.#open(true);
    } else this.probe();
  }

  #lose(code, reason, text) {
    clearTimeout(this.retryTimer);
    this.#forget();
    this.resume = null;
    this.#setState('lost', 'Session lost');
    this.onEvent('lost', { code, reason, text });
  }

  #reconnectText() {
    if (!this.resume || !this.droppedAt) return 'Reconnecting…';
    const left = Math.max(0, Math.round((this.droppedAt + this.resume.graceMs - Date.now()) / 1000));
    return `Reconnecting… (${left} s left)`;
  }

  #closeSocket(code, reason) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  #setState(state, text) {
    this.state = state;
    this.onEvent('status', { state, text });
  }

  #save() {
    if (!this.storage) return;
    try {
      if (this.resume && this.session) {
        this.storage.setItem(
          STORE_KEY,
          JSON.stringify({
            session: this.session,
            hello: this.hello ? { ...this.hello, resume: null } : null,
            token: this.resume.token,
            graceMs: this.resume.graceMs,
            lastSeq: this.lastSeq,
            at: this.droppedAt || Date.now(),
          }),
        );
      }
    } catch {
      // storage disabled: a reload starts a new session
    }
  }

  #load() {
    try {
      const saved = JSON.parse(this.storage?.getItem(STORE_KEY) ?? 'null');
      if (!saved || typeof saved.token !== 'string' || typeof saved.lastSeq !== 'number') return undefined;
      if (Date.now() - saved.at > saved.graceMs) {
        this.#forget();
        return undefined;
      }
      return saved;
    } catch {
      return undefined;
    }
  }

  #forget() {
    try {
      this.storage?.removeItem(STORE_KEY);
    } catch {
      // nothing to forget
    }
  }
}

/** UTF-8 text in base64url without padding: characters a subprotocol may hold. */
function base64url(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export const short = (id) => (typeof id === 'string' ? id.slice(0, 8) : '—');
