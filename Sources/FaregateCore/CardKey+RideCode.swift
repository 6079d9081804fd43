/// The app that issued a ride code (QR). The ride-code key space carries it in bits 52–59 of the
/// identifier, so a gate can accept or refuse a code by issuer without any lookup.
///
/// Issuer 0 (`transitApp`) is the value every ride-code key had before issuers were carried, so
/// existing keys keep their meaning. Source: the 2022 upgrade notice lists 亿通行, 支付宝, 云闪付,
/// 招商银行 and the metro apps of the interoperating cities Shanghai, Tianjin, Guangzhou, Hohhot;
/// the bus group's own ride code is upgraded on its website.
public enum RideCodeIssuer: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Beijing's transit app (亿通行).
    case transitApp = 0
    /// Beijing Public Transport Group's own bus ride code.
    case busGroup = 1
    /// Alipay wallet (支付宝).
    case alipay = 2
    /// UnionPay QuickPass wallet (银联云闪付).
    case unionPay = 3
    /// China Merchants Bank app (招商银行).
    case merchantsBank = 4
    /// Shanghai metro app (interoperating city).
    case shanghai = 16
    /// Tianjin metro app (interoperating city).
    case tianjin = 17
    /// Guangzhou metro app (interoperating city).
    case guangzhou = 18
    /// Hohhot metro app (interoperating city).
    case hohhot = 19

    public var description: String { name }

    /// True for the apps of other cities whose codes Beijing's gates accept by interoperation.
    public var isOtherCity: Bool { rawValue >= 16 }

    /// Bit of this issuer in a 64-bit issuer set.
    @inlinable public var bit: UInt64 { 1 << UInt64(rawValue & 63) }
}

extension CardKey {
    /// Width of the account part of a ride-code identifier.
    public static let rideCodeAccountBits: UInt64 = 52

    /// The key of ride-code account `account` issued by `issuer`; nil when the account does not fit.
    public init?(rideCodeIssuer issuer: RideCodeIssuer, account: UInt64) {
        guard account < 1 << Self.rideCodeAccountBits else { return nil }
        self.init(medium: .rideCode, identifier: UInt64(issuer.rawValue) << Self.rideCodeAccountBits | account)
    }

    /// The key of ride-code account `account` under issuer number `issuer`, also for a number this
    /// build does not name (a ride code's certificate carries the raw byte; the issuer rule decides
    /// on it). Nil when the account does not fit (`>= 2^52`).
    public init?(rideCodeIssuerNumber issuer: UInt8, account: UInt64) {
        guard account < 1 << Self.rideCodeAccountBits else { return nil }
        self.init(medium: .rideCode, identifier: UInt64(issuer) << Self.rideCodeAccountBits | account)
    }

    /// The account part of a ride-code key.
    public var rideCodeAccount: UInt64 { identifier & ((1 << Self.rideCodeAccountBits) - 1) }

    /// The issuer of a ride-code key; nil for other media or an issuer this build does not know.
    public var rideCodeIssuer: RideCodeIssuer? {
        guard medium == .rideCode else { return nil }
        return RideCodeIssuer(rawValue: UInt8(truncatingIfNeeded: identifier >> Self.rideCodeAccountBits))
    }

    /// The raw issuer byte of a ride-code key (also for issuers this build does not know).
    public var rideCodeIssuerByte: UInt8 { UInt8(truncatingIfNeeded: identifier >> Self.rideCodeAccountBits) }
}
