/// Columns of text, each as wide as its widest cell: names left-aligned, numbers right-aligned.
struct TextTable {
    struct Column {
        var title: String
        var rightAligned = false

        static func left(_ title: String) -> Column { Column(title: title) }
        static func right(_ title: String) -> Column { Column(title: title, rightAligned: true) }
    }

    var columns: [Column]
    var rows: [[String]] = []

    init(_ columns: [Column]) {
        self.columns = columns
    }

    mutating func add(_ cells: [String]) {
        rows.append(cells)
    }

    /// The heading line, then one line per row; columns two spaces apart, no trailing spaces.
    var lines: [String] {
        let widths = columns.indices.map { index in
            ([columns[index].title] + rows.map { index < $0.count ? $0[index] : "" }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (index, column) in columns.enumerated() {
                let cell = index < cells.count ? cells[index] : ""
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                parts.append(column.rightAligned ? padding + cell : cell + padding)
            }
            var text = parts.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        return [line(columns.map(\.title))] + rows.map(line)
    }
}
