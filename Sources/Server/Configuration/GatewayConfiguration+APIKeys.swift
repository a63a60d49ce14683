import Foundation

extension GatewayConfiguration {
    /// The shortest key `GATEWAY_API_KEY` accepts; `keys create` makes longer ones.
    public static let minimumAPIKeyLength = 32

    /// Every key of `GATEWAY_API_KEY` is printable ASCII without spaces and at least
    /// ``minimumAPIKeyLength`` characters long; the error never repeats the key.
    static func validateAPIKeys(_ keys: [String], environment: Environment) throws {
        for (index, key) in keys.enumerated() {
            let position = keys.count == 1 ? "the key" : "key \(index + 1) of \(keys.count)"
            if key.contains(where: { $0.isWhitespace || !$0.isASCII || $0.asciiValue! < 0x21 }) {
                throw environment.error("GATEWAY_API_KEY", "\(position) must be printable ASCII without spaces")
            }
            if key.count < minimumAPIKeyLength {
                throw environment.error(
                    "GATEWAY_API_KEY",
                    "\(position) has \(key.count) characters; at least \(minimumAPIKeyLength) are required (e.g. openssl rand -hex 32)"
                )
            }
        }
    }
}
