import ModelProvider
/// The conversations kept parsed in memory, least recently used first out once their estimated
/// size passes `byteBudget`. A conversation dropped from it is parsed again from its rollout
/// file when next needed, so eviction loses nothing.
struct ConversationCache {
    let byteBudget: Int
    private var entries: [String: (record: ConversationRecord, cost: Int, use: UInt64)] = [:]
    /// Uses in order, oldest first; an entry whose `use` differs from the entry's is stale.
    private var order: [(id: String, use: UInt64)] = []
    private var orderStart = 0
    private var uses: UInt64 = 0
    private(set) var totalCost = 0

    init(byteBudget: Int) {
        self.byteBudget = byteBudget
    }

    var count: Int { entries.count }

    /// The cached record, or nil. Reading it counts as a use.
    mutating func record(_ id: String) -> ConversationRecord? {
        guard let entry = entries[id] else { return nil }
        uses += 1
        entries[id]?.use = uses
        order.append((id, uses))
        return entry.record
    }

    /// The cached record without counting a use; setting it stores it (nil removes it), then
    /// evicts down to the budget. A record larger than the whole budget is not kept.
    subscript(id: String) -> ConversationRecord? {
        get { entries[id]?.record }
        set {
            if let old = entries.removeValue(forKey: id) { totalCost -= old.cost }
            guard let record = newValue else { return }
            let cost = Self.cost(of: record)
            guard cost <= byteBudget else { return }
            uses += 1
            entries[id] = (record, cost, uses)
            order.append((id, uses))
            totalCost += cost
            evict()
        }
    }

    private mutating func evict() {
        while totalCost > byteBudget, orderStart < order.count {
            let (id, use) = order[orderStart]
            orderStart += 1
            if let entry = entries[id], entry.use == use {
                entries[id] = nil
                totalCost -= entry.cost
            }
        }
        // Drop the stale part of the use log once it is most of it.
        if orderStart > 64, orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
        if order.count - orderStart > 4 * entries.count + 64 {
            order = order[orderStart...].filter { entries[$0.id]?.use == $0.use }
            orderStart = 0
        }
    }

    /// An estimate of the memory a record holds: its texts and a fixed overhead per message.
    static func cost(of record: ConversationRecord) -> Int {
        record.messages.reduce(512 + record.path.utf8.count) { total, message in
            total + 128 + message.content.utf8.count + message.images.reduce(0) { $0 + $1.utf8.count }
        }
    }
}
