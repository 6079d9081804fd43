/// Signed publications in one byte string: what `farectl central export` writes, what
/// `load-snapshot` takes, and what a gate with a pinned key keeps as its local table, so that
/// every table it serves, at start or handed over by an operator, is verified against the
/// central key again when it is loaded (issue 16: a checksummed local file used to outrank
/// every signed publication).
///
/// Format (integers little-endian):
///
///     0  "FGB1"                magic
///     4  u32 count
///     8  count × (sealed manifest, `SyncManifest.sealedSize` bytes, then its body, `bodySize` bytes)
///
/// Nothing in it is trusted on decoding (`init(decoding:)` only splits it; sizes are bounded by
/// the bytes present, never by what a manifest says); `SyncVerifier.table(from:…)` verifies.
public struct SignedBundle: Sendable {
    public var publications: [SignedPublication]

    public static let magic: [UInt8] = Array("FGB1".utf8)
    public static let headerSize = 8

    public init(_ publications: [SignedPublication]) { self.publications = publications }

    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(
            Self.headerSize + publications.reduce(0) { $0 + $1.envelope.count + $1.body.count })
        ByteWriter.append(UInt32(clamping: publications.count), to: &out)
        for p in publications {
            out += p.envelope
            out += p.body
        }
        return out
    }

    /// Splits `b` into publications; throws `.malformed` for anything that is not a bundle
    /// (a bare status snapshot, a truncated or padded file).
    public init(decoding b: [UInt8]) throws(SyncVerificationError) {
        guard b.count >= Self.headerSize, Array(b[0..<4]) == Self.magic else {
            throw SyncVerificationError(.malformed, "not a signed bundle (short or bad magic; an unsigned table?)")
        }
        let count = Int(ByteReader.u32(b, at: 4))
        var offset = Self.headerSize
        var out: [SignedPublication] = []
        for i in 0..<count {
            guard b.count - offset >= SyncManifest.sealedSize else {
                throw SyncVerificationError(.malformed, "bundle publication \(i) of \(count) is cut short")
            }
            let envelope = Array(b[offset..<offset + SyncManifest.sealedSize])
            let m = try SyncManifest(canonical: envelope.prefix(SyncManifest.encodedSize))
            offset += SyncManifest.sealedSize
            guard m.bodySize <= UInt64(b.count - offset) else {
                throw SyncVerificationError(
                    .sizeMismatch, "bundle publication \(i) declares \(m.bodySize) body bytes, \(b.count - offset) left"
                )
            }
            let end = offset + Int(m.bodySize)
            out.append(SignedPublication(manifest: m, envelope: envelope, body: Array(b[offset..<end])))
            offset = end
        }
        guard offset == b.count else {
            throw SyncVerificationError(.malformed, "\(b.count - offset) bytes after the bundle's last publication")
        }
        publications = out
    }
}

/// The signed publications a table in service was built from: a snapshot and the deltas after it.
public struct SignedBasis: Sendable {
    public var snapshot: SignedPublication
    public var deltas: [SignedPublication]

    public init(snapshot: SignedPublication, deltas: [SignedPublication]) {
        self.snapshot = snapshot
        self.deltas = deltas
    }

    public var version: UInt64 { deltas.last?.manifest.toVersion ?? snapshot.manifest.toVersion }
}

extension SyncVerifier {
    /// Verifies a bundle that starts with a snapshot (then any deltas after it, each starting where
    /// the one before ends) and builds the table they describe. All or nothing: one publication
    /// that does not verify (signature, scope, size, hash, version order) refuses the whole bundle.
    ///
    /// `versionInService`: the table the result would replace; a bundle reaching an older version
    /// is refused (`.rolledBack`); the same version is accepted (an operator reloading it).
    public func table(from bundle: SignedBundle, versionInService: UInt64?) throws(SyncVerificationError)
        -> (table: CompactStatusTable, basis: SignedBasis)
    {
        guard let first = bundle.publications.first else {
            throw SyncVerificationError(.malformed, "the bundle holds no publication")
        }
        let m = try verify(envelope: first.envelope, body: first.body, versionInService: nil, expecting: .snapshot)
        let snapshot = try DeltaBody(decoding: first.body, verifiedBy: m)
        let chain = Array(bundle.publications.dropFirst())
        let bodies = try verifiedDeltas(chain, versionInService: m.toVersion)
        let version = bodies.last?.toVersion ?? m.toVersion
        if let current = versionInService, version < current {
            throw SyncVerificationError(
                .rolledBack, "bundle reaches version \(version), older than \(current) in service")
        }
        let table = CompactStatusTable(
            dataVersion: m.toVersion,
            pairs: GateSync.changes([snapshot]).compactMap { c in c.status.map { (c.key, $0) } })
        let basis = SignedBasis(snapshot: first, deltas: chain)
        guard !bodies.isEmpty else { return (table, basis) }
        return (table.applying(GateSync.changes(bodies), dataVersion: version), basis)
    }
}
