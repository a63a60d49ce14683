import Foundation
import NIOSSL

/// The certificates an `https://` provider is verified against: the system's trust store plus,
/// as curl and Python do, `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR` (a directory of PEM
/// certificates, or several separated by `:`).
public struct ProviderTrust: Sendable {
    /// Extra roots, in the order found.
    public private(set) var additionalCertificates: [NIOSSLCertificate] = []

    /// The system store only.
    public init() {}

    /// Reads `SSL_CERT_FILE` and `SSL_CERT_DIR` from `environment`. A file that is missing or holds
    /// no PEM certificate, or a directory that cannot be read, throws ``ProviderTrustError`` naming
    /// the variable: a deployment that points at a CA expects it to be used.
    public init(environment: [String: String]) throws(ProviderTrustError) {
        if let file = environment["SSL_CERT_FILE"], !file.isEmpty {
            additionalCertificates += try Self.certificates(inFile: file, variable: "SSL_CERT_FILE")
        }
        if let directories = environment["SSL_CERT_DIR"], !directories.isEmpty {
            for directory in directories.split(separator: ":").map(String.init) where !directory.isEmpty {
                let names: [String]
                do {
                    names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
                } catch {
                    throw ProviderTrustError(variable: "SSL_CERT_DIR", path: directory, reason: "the directory cannot be read")
                }
                // OpenSSL's hashed links (`<hash>.0`) and plain `.pem`/`.crt` files alike; files that
                // hold no certificate (a README, a CRL) are skipped, as OpenSSL skips them.
                for name in names where !name.hasPrefix(".") {
                    let path = directory + "/" + name
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                    additionalCertificates += (try? NIOSSLCertificate.fromPEMFile(path)) ?? []
                }
            }
        }
    }

    private static func certificates(inFile path: String, variable: String) throws(ProviderTrustError) -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ProviderTrustError(variable: variable, path: path, reason: "the file does not exist or cannot be read")
        }
        let certificates = (try? NIOSSLCertificate.fromPEMFile(path)) ?? []
        guard !certificates.isEmpty else {
            throw ProviderTrustError(variable: variable, path: path, reason: "the file holds no PEM certificate")
        }
        return certificates
    }

    /// A client configuration that verifies the provider against the system store and the extra roots.
    public var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if !additionalCertificates.isEmpty {
            configuration.additionalTrustRoots = [.certificates(additionalCertificates)]
        }
        return configuration
    }
}

/// `SSL_CERT_FILE` or `SSL_CERT_DIR` names something that cannot be used.
public struct ProviderTrustError: Error, Sendable, CustomStringConvertible {
    public var variable: String
    public var path: String
    public var reason: String

    public var description: String {
        "\(variable)=\(path): \(reason) (it should name PEM certificates to trust for an https model provider)."
    }
}
