import FaregateCore
import Foundation

/// Reads policy files from disk for `PolicyBook.load` (the core parses and validates; this only
/// does the file I/O).
public enum PolicyFiles {
    /// Every `*.json` file of `directory`, sorted by name, as one book. Throws `PolicyError` naming
    /// the file for an unreadable or invalid file; on error nothing is replaced by the caller.
    public static func loadBook(directory: String) throws(PolicyError) -> PolicyBook {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
                .sorted()
        } catch {
            throw PolicyError(file: directory, field: "", problem: "cannot list policy directory (\(error))")
        }
        return try loadBook(files: names.map { directory + "/" + $0 })
    }

    /// The given files as one book.
    public static func loadBook(files: [String]) throws(PolicyError) -> PolicyBook {
        var loaded: [(name: String, bytes: [UInt8])] = []
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PolicyError(file: path, field: "", problem: "cannot read file")
            }
            loaded.append((path, [UInt8](data)))
        }
        return try PolicyBook.load(loaded)
    }
}
