/// The `codex app-server` protocol (v2) as typed Swift values: what the gateway sends to the child
/// (``ClientRequest`` params wrapped in ``OutgoingRequest``, ``OutgoingNotification``, answers to
/// server requests) and what it reads back, one ``Message`` per line.
///
/// The models follow `Protocol/schema/definitions.json` (extracted by `scripts/app-server-schema`
/// from the schema `codex app-server generate-json-schema --experimental` prints for
/// ``CodexBinary/pinnedVersion``); `AppServerSchemaTests` fails when the installed binary prints
/// another one. Members the engine does not need are left out (decoding ignores them); a method,
/// item type or enum value the models do not know decodes to an `unknown`/`other` case instead of
/// failing. The names are the schema's, inside this namespace, so that they do not collide with the
/// gateway's own `ThreadItem` or Foundation's `Thread`.
public enum AppServer {}
