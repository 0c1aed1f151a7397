extension BPETokenizer {
    /// An array-backed binary min-heap: the smallest element (by `<`) comes out first.
    /// Used by BPE training (most frequent pair first) and encoding (lowest merge rank first).
    struct Heap<Element: Comparable> {
        private var items: [Element] = []

        /// Builds the heap in O(n) from unordered elements.
        init(_ elements: [Element]) {
            items = elements
            var i = items.count / 2 - 1
            while i >= 0 {
                siftDown(i)
                i -= 1
            }
        }

        mutating func push(_ element: Element) {
            items.append(element)
            siftUp(items.count - 1)
        }

        mutating func pop() -> Element? {
            guard let last = items.popLast() else { return nil }
            guard !items.isEmpty else { return last }
            let top = items[0]
            items[0] = last
            siftDown(0)
            return top
        }

        private mutating func siftUp(_ index: Int) {
            var child = index
            let element = items[child]
            while child > 0 {
                let parent = (child - 1) / 2
                guard element < items[parent] else { break }
                items[child] = items[parent]
                child = parent
            }
            items[child] = element
        }

        private mutating func siftDown(_ index: Int) {
            let count = items.count
            var parent = index
            let element = items[parent]
            while true {
                var child = 2 * parent + 1
                guard child < count else { break }
                if child + 1 < count, items[child + 1] < items[child] { child += 1 }
                guard items[child] < element else { break }
                items[parent] = items[child]
                parent = child
            }
            items[parent] = element
        }
    }
}
