// Idle exit for the socket-activated agent: once no connection has been open for
// idleMs, the listening socket is closed and onIdle runs. The check and the close
// happen in one synchronous step, so no connection can be accepted between them and
// then dropped; a client that connects afterwards waits in the listening socket's
// queue, which systemd still holds, and systemd starts the next agent for it.
import type { Server } from "node:net";

/**
 * Watches `server`'s connections; after `idleMs` with none open, closes it and calls
 * onIdle (once). A deploy opens one connection per request, so "no connection open"
 * is "no request in flight".
 */
export function exitWhenIdle(server: Server, idleMs: number, onIdle: () => void): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const check = (): void => {
    if (done || open > 0) return;
    done = true;
    server.close();
    onIdle();
  };
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(check, idleMs);
  };
  server.on("connection", (socket) => {
    open++;
    clearTimeout(timer);
    socket.once("close", () => {
      if (--open === 0) arm();
    });
  });
  server.once("close", () => clearTimeout(timer));
  arm();
}
