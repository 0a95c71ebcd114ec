// The pages' clients: gRPC-Web to the origin that served the page, with code generated from
// passlink's protos (src/gen).

import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { SessionService } from "../gen/zitadel/session/v2/session_service_pb";
import { UserService } from "../gen/zitadel/user/v2/user_service_pb";

let transport: Transport | undefined;

/** One gRPC-Web transport per page, to the page's own origin. */
function pageTransport(): Transport {
  transport ??= createGrpcWebTransport({ baseUrl: location.origin });
  return transport;
}

/** A client of zitadel.user.v2.UserService. */
export function userService(): Client<typeof UserService> {
  return createClient(UserService, pageTransport());
}

/** A client of zitadel.session.v2.SessionService. */
export function sessionService(): Client<typeof SessionService> {
  return createClient(SessionService, pageTransport());
}

/** Call options that send `token` as the bearer token. */
export function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { Authorization: `Bearer ${token}` } };
}
