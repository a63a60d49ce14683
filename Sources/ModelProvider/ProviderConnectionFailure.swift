import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Why a model provider could not be reached or broke off, in words fit for a caller: it names
/// the provider (its configured `name`) and the cause, never the provider's address or the
/// socket error, which go to the log.
public struct ProviderConnectionFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Cause: String, Sendable, Hashable {
        /// Nothing listens at the provider's address: the host answered with a reset.
        case refused
        /// The provider's host name does not resolve.
        case hostNotFound
        /// No route to the provider's network or host.
        case networkUnreachable
        /// Connecting took longer than the connect timeout.
        case timedOut
        /// The TLS handshake failed: the provider's certificate could not be verified (an unknown
        /// CA, an expired certificate, a name that does not match) or TLS could not be agreed.
        case tls
        /// The connection closed before the answer was complete.
        case connectionClosed
        /// Anything else (the log has the detail).
        case other
    }

    /// The provider's configured display name.
    public var provider: String
    public var cause: Cause

    public init(provider: String, cause: Cause) {
        self.provider = provider
        self.cause = cause
    }

    /// Refused and unresolvable hosts and failed TLS handshakes are definite answers: retrying them within seconds only
    /// makes the caller wait. The others may pass.
    public var isRetryable: Bool {
        switch cause {
        case .refused, .hostNotFound, .tls: false
        case .networkUnreachable, .timedOut, .connectionClosed, .other: true
        }
    }

    public var description: String {
        let unreachable = "The model provider '\(provider)' could not be reached"
        return switch cause {
        case .refused: "\(unreachable): the connection was refused (is the provider running?)."
        case .hostNotFound: "\(unreachable): its host name does not resolve."
        case .networkUnreachable: "\(unreachable): its network is unreachable."
        case .timedOut: "\(unreachable): connecting timed out."
        case .tls: "\(unreachable): the TLS handshake failed (is its certificate trusted? SSL_CERT_FILE and SSL_CERT_DIR add a CA)."
        case .connectionClosed: "The model provider '\(provider)' broke off its answer: the connection closed before it was complete."
        case .other: "\(unreachable), or broke off its answer."
        }
    }

    /// Classifies an error of AsyncHTTPClient or SwiftNIO raised before an answer was relayed.
    public static func cause(of error: any Error) -> Cause {
        switch error {
        case let error as NIOConnectionError:
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty { return .hostNotFound }
            let causes = Set(error.connectionErrors.map { cause(of: $0.error) })
            if causes.count == 1, let only = causes.first { return only }
            if causes.contains(.refused) { return .refused }
            return causes.first ?? .other
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: return .refused
            case ENETUNREACH, EHOSTUNREACH: return .networkUnreachable
            case ETIMEDOUT: return .timedOut
            case ECONNRESET, EPIPE: return .connectionClosed
            default: return .other
            }
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return .timedOut
            case .ioOnClosedChannel, .eof, .alreadyClosed, .outputClosed: return .connectionClosed
            default: return .other
            }
        case is NIOSSLError, is NIOSSLExtraError, is BoringSSLError:
            return .tls
        case is HTTPParserError:
            return .connectionClosed
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout: return .timedOut
            case .remoteConnectionClosed: return .connectionClosed
            default: return .other
            }
        default:
            return .other
        }
    }
}
