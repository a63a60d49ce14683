/// Nearest-rank percentiles over nanosecond samples, reported in microseconds.
struct Summary {
    var count: Int
    var min: Double
    var mean: Double
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double

    init(nanoseconds samples: [UInt64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func us(_ value: UInt64) -> Double { Double(value) / 1000 }
        func rank(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = Swift.max(0, Swift.min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1))
            return us(sorted[index])
        }
        min = sorted.first.map(us) ?? 0
        max = sorted.last.map(us) ?? 0
        mean = sorted.isEmpty ? 0 : Double(sorted.reduce(0, &+)) / Double(sorted.count) / 1000
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        p999 = rank(0.999)
    }

    /// `"<prefix>_p50_us":…` fields.
    func json(_ prefix: String) -> String {
        "\"\(prefix)_count\":\(count),\"\(prefix)_min_us\":\(fmt(min)),\"\(prefix)_mean_us\":\(fmt(mean)),"
            + "\"\(prefix)_p50_us\":\(fmt(p50)),\"\(prefix)_p90_us\":\(fmt(p90)),\"\(prefix)_p99_us\":\(fmt(p99)),"
            + "\"\(prefix)_p999_us\":\(fmt(p999)),\"\(prefix)_max_us\":\(fmt(max))"
    }
}

func fmt(_ value: Double) -> String {
    let scaled = (value * 10).rounded() / 10
    return scaled == scaled.rounded() ? String(Int(scaled)) : String(scaled)
}

func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                out += "\\u00" + String(scalar.value, radix: 16).leftPadded(2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}

/// `{"200":123,"404":2}`
func statusJSON(_ counts: [Int: Int]) -> String {
    "{" + counts.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
}
