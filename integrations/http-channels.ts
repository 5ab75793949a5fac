/**
 * Every `diagnostics_channel` the outgoing-HTTP integration listens to, in one place.
 *
 * Node 20 (checked on 20.20 with `node -e`) publishes, for `http`/`https`:
 * - `http.client.request.start` `{ request }`: from `ClientRequest#_finish`, i.e. once the
 *   request, headers and body, has been flushed to the socket. Too late to add a header:
 *   `setHeader` throws `ERR_HTTP_HEADERS_SENT` there.
 * - `http.client.response.finish` `{ request, response }`: when the response *headers* arrive
 *   (despite the name), before the `response` event.
 * - `http.client.request.error` `{ request, error }`: before the request's `error` event.
 * Node >= 22.12 and >= 23.2 also publish `http.client.request.created` `{ request }` at the end
 * of the `ClientRequest` constructor, before any header is rendered: the right place to inject.
 *
 * For `fetch` (the undici bundled in Node, and the `undici` package):
 * - `undici:request:create` `{ request }`: headers not yet sent; `request.addHeader` works.
 * - `undici:client:sendHeaders` `{ request, headers, socket }`: on a connected socket.
 * - `undici:request:headers` `{ request, response }`: response headers (`statusCode`).
 * - `undici:request:trailers` `{ request, trailers }`: the response body is complete.
 * - `undici:request:error` `{ request, error }`: connection errors, aborts.
 */
export const channels = {
  httpRequestCreated: 'http.client.request.created',
  httpRequestStart: 'http.client.request.start',
  httpRequestError: 'http.client.request.error',
  httpResponseFinish: 'http.client.response.finish',
  undiciRequestCreate: 'undici:request:create',
  undiciClientSendHeaders: 'undici:client:sendHeaders',
  undiciRequestHeaders: 'undici:request:headers',
  undiciRequestTrailers: 'undici:request:trailers',
  undiciRequestError: 'undici:request:error',
} as const;

/**
 * Whether this Node publishes `http.client.request.created` (added in 23.2.0 and 22.12.0).
 * A channel is created on first use by name, so its existence cannot be probed: the version is
 * the only signal.
 */
export function publishesRequestCreated(version: string = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 2) || (major === 22 && minor >= 12);
}
