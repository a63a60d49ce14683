import Foundation

/// Fresh ids for the Responses objects the bridge makes: `resp_…`, `msg_…`, `fc_…`, `ctc_…`, `call_…`.
package enum ResponseIDs {
    /// `prefix_` and 32 random hex digits.
    package static func make(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }
}
