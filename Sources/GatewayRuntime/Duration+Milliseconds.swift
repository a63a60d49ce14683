extension Duration {
    /// Whole and fractional milliseconds, for logs and metrics.
    public var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
