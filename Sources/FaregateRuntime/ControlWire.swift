import FaregateCore
import Foundation

/// The control protocol's bytes: one JSON object per line, in both directions (see
/// `ControlRequest` and `ControlResponse` for the fields). The server and `farectl` both go
/// through here, so there is one encoding of each message.
public enum ControlWire {
    /// The longest request line the server reads (a request is a few hundred bytes).
    public static let maxRequestBytes = 64 * 1024
    /// The longest answer a client reads: 10,000 journal entries at about 400 bytes, with room.
    public static let maxResponseBytes = 16 * 1024 * 1024

    /// `message` as one line of JSON, newline included. Keys sorted, so equal messages are equal
    /// bytes; slashes unescaped, so paths read as paths.
    public static func line(_ message: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value in the protocol's types encodes (no NaN: times are finite); a failure here
        // is a programming error in an `encode(to:)`, answered as a failure rather than a trap.
        guard var data = try? encoder.encode(message) else {
            return line(ControlResponse.failure(ControlFailure(.failed, "the gate could not encode its answer")))
        }
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Decodes one request line (without or with its newline); every way it can be wrong is a
    /// `ControlFailure` with a message for the person who sent it.
    ///
    /// The line is read by the project's strict reader first (`StrictJSONReader`: duplicate keys,
    /// trailing commas, lone surrogates and the like are refused with their position, issue 14:
    /// with duplicate keys which one counts differs between readers, so a request could mean one
    /// thing to a proxy or a log and another to the gate), then decoded into its type.
    public static func request(_ bytes: some Collection<UInt8>) -> Result<ControlRequest, ControlFailure> {
        var line = Array(bytes)
        while let last = line.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { line.removeLast() }
        var limits = StrictJSONReader.Limits()
        limits.maxBytes = maxRequestBytes
        limits.maxDepth = 8  // a request is one flat object
        do {
            _ = try StrictJSONReader.read(line, limits: limits)
        } catch {
            return .failure(ControlFailure(.badRequest, "request must be one JSON object on one line (\(error))"))
        }
        return decode(ControlRequest.self, line, what: "request")
    }

    /// Decodes one answer line.
    public static func response(_ bytes: some Collection<UInt8>) -> Result<ControlResponse, ControlFailure> {
        decode(ControlResponse.self, bytes, what: "answer")
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: some Collection<UInt8>, what: String) -> Result<
        T, ControlFailure
    > {
        var data = Data(bytes)
        while let last = data.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { data.removeLast() }
        guard !data.isEmpty, !data.contains(UInt8(ascii: "\n")) else {
            return .failure(ControlFailure(.badRequest, "\(what) must be one JSON object on one line"))
        }
        do {
            return .success(try JSONDecoder().decode(T.self, from: data))
        } catch let failure as ControlFailure {
            return .failure(failure)
        } catch DecodingError.dataCorrupted(let context) {
            // Not JSON at all: Foundation's own sentence ("The given data was not valid JSON.").
            return .failure(
                ControlFailure(.badRequest, "\(what) must be one JSON object on one line (\(context.debugDescription))")
            )
        } catch {
            return .failure(ControlFailure(.badRequest, "\(what) must be one JSON object on one line"))
        }
    }
}
