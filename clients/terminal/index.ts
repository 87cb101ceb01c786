/** The terminal client of `vmgate connect` (docs/clients.md). */
export {
  type ClientRequest,
  ConnectError,
  type ConnectionEvent,
  type ConnectionOptions,
  type Hello,
  RESUME_REFUSALS,
  type ServerFrame,
  SessionConnection,
  SessionLostError,
} from './connection';
export { historyFile, isIncomplete, loadHistory, parseCommand, saveHistory } from './input';
export { colorEnabled, highlightInspect, renderStats, Style } from './render';
export { runInteractive, runOnce, type TerminalClientOptions } from './repl';
