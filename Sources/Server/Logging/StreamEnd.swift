import AsyncHTTPClient
import Foundation
import NIOCore

/// How a streamed response ended, for its access line (`stream.end`).
enum StreamEnd: String, Sendable {
    /// Its last byte was written.
    case completed
    /// The client's connection closed before the end.
    case clientDisconnected = "client_disconnected"
    /// The model provider failed, broke off or went silent mid-stream.
    case upstreamError = "upstream_error"
    /// The server cancelled it (shutting down).
    case cancelled

    /// Why a body's writing threw `error`.
    init(_ error: any Error) {
        switch error {
        case is CancellationError:
            self = .cancelled
        case let error as HTTPClientError where error == .cancelled:
            // The relay stops the provider's answer this way when the client's connection goes.
            self = .clientDisconnected
        case let error as ChannelError where [.ioOnClosedChannel, .alreadyClosed, .outputClosed, .eof].contains(error):
            self = .clientDisconnected
        case let error as IOError where [EPIPE, ECONNRESET].contains(error.errnoCode):
            self = .clientDisconnected
        default:
            self = .upstreamError
        }
    }
}
