/**
 * WebSockets in handlers that run on ringpool's workers.
 *
 * A handler module calls `Deno.upgradeWebSocket(request)` as it does under
 * `deno serve`; in a ringpool worker that call is relayed: the worker gets a
 * `WebSocket` whose events and sends cross to the main thread, which keeps
 * the real socket. {@linkcode upgradeWebSocket} is the same function for
 * code that prefers an explicit import.
 *
 * @module
 */

/**
 * Upgrades an incoming request to a WebSocket, like `Deno.upgradeWebSocket`
 * (which it calls): in a handler on a ringpool worker it is ringpool's
 * relayed upgrade, anywhere else Deno's own. Return the `response` from the
 * handler; the socket opens once it is sent.
 *
 * @param request The handler's request, with `Upgrade: websocket`.
 * @param options The subprotocol to accept and the idle timeout, as Deno's.
 * @returns The socket and the response that performs the upgrade.
 * @throws {TypeError} If the request is not a WebSocket upgrade.
 *
 * @example Echo every message
 * ```ts ignore
 * import { upgradeWebSocket } from "@ringpool/ringpool";
 *
 * export default {
 *   fetch(request: Request): Response {
 *     if (request.headers.get("upgrade") !== "websocket") {
 *       return new Response("plain");
 *     }
 *     const { socket, response } = upgradeWebSocket(request);
 *     socket.onmessage = (event) => socket.send(`echo:${event.data}`);
 *     return response;
 *   },
 * };
 * ```
 */
export function upgradeWebSocket(
  request: Request,
  options?: Deno.UpgradeWebSocketOptions,
): Deno.WebSocketUpgrade {
  return Deno.upgradeWebSocket(request, options);
}
