/// One passage on a ride code as central stores it (`ride_code_evidence`): where and when, and
/// the code's evidence, so the ride can be settled with its issuer and proved later.
public struct RideCodeRide: Hashable, Sendable, Encodable {
    public var gate: String
    public var sequence: UInt64
    public var wallMillis: Int64
    public var evidence: RideCodeEvidence

    public init(gate: String, sequence: UInt64, wallMillis: Int64, evidence: RideCodeEvidence) {
        self.gate = gate
        self.sequence = sequence
        self.wallMillis = wallMillis
        self.evidence = evidence
    }

    enum Field: String, CodingKey { case gate, sequence = "seq", wallMillis = "wall_ms", rideCode = "ride_code" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Field.self)
        try c.encode(gate, forKey: .gate)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(wallMillis, forKey: .wallMillis)
        try c.encode(evidence, forKey: .rideCode)
    }
}

/// The rides of one issuer to settle by inter-city clearing: their count and the records.
public struct RideCodeClearingBatch: Hashable, Sendable, Encodable {
    public var issuer: UInt8
    /// The issuer's name when this build knows it (`RideCodeIssuer.name`).
    public var issuerName: String?
    public var rides: [RideCodeRide]

    enum Field: String, CodingKey { case issuer, issuerName = "issuer_name", count, rides }

    public init(issuer: UInt8, rides: [RideCodeRide]) {
        self.issuer = issuer
        issuerName = RideCodeIssuer(rawValue: issuer)?.name
        self.rides = rides
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Field.self)
        try c.encode(issuer, forKey: .issuer)
        try c.encodeIfPresent(issuerName, forKey: .issuerName)
        try c.encode(rides.count, forKey: .count)
        try c.encode(rides, forKey: .rides)
    }

    /// `rides` grouped by issuer, issuers ascending, each issuer's rides in the order given.
    public static func grouped(_ rides: [RideCodeRide]) -> [RideCodeClearingBatch] {
        Dictionary(grouping: rides, by: \.evidence.issuerNumber).sorted { $0.key < $1.key }.map {
            RideCodeClearingBatch(issuer: $0.key, rides: $0.value)
        }
    }
}

/// What central keeps of passages on ride codes: every accepted code's evidence, stored from the
/// gates' journal uploads with the journal record (the same transaction), and marked for
/// clearing when its issuer is another city's metro app (the mark the gate's record states).
public protocol RideCodeEvidenceStore: AnyObject {
    /// Stored rides, by gate and sequence; `issuer` nil: every issuer; `clearingOnly`: only those
    /// marked for inter-city clearing.
    func rideCodeRides(issuer: UInt8?, clearingOnly: Bool) throws(CentralStoreError) -> [RideCodeRide]
}
