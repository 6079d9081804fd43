"""The signature primitives ride code v1 names, written from their public specifications and
nothing of faregate's: SM3 (GM/T 0004-2012), SM2 signatures (GM/T 0003.2-2012 with the curve of
GM/T 0003.5), Ed25519 (RFC 8032, after its section 6 reference code) and Base45 (RFC 9285).

Standard library only, so any Python 3.8+ runs it. Slow (pure Python) but a corpus needs only a
few hundred signatures. `self_test()` checks each primitive against its standard's own test
vectors; `independent_ridecode.py --self-check` also has the `openssl` command line verify every
signature it made.
"""

import hashlib
import secrets

# ---------------------------------------------------------------------------------------------
# SM3 (GM/T 0004-2012)

_SM3_IV = [0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E]
_M32 = 0xFFFFFFFF


def _rotl(x, n):
    n %= 32
    return ((x << n) | (x >> (32 - n))) & _M32


def _p0(x):
    return x ^ _rotl(x, 9) ^ _rotl(x, 17)


def _p1(x):
    return x ^ _rotl(x, 15) ^ _rotl(x, 23)


def _sm3_compress(v, block):
    w = [int.from_bytes(block[4 * i : 4 * i + 4], "big") for i in range(16)]
    for j in range(16, 68):
        w.append(_p1(w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
    w1 = [w[j] ^ w[j + 4] for j in range(64)]
    a, b, c, d, e, f, g, h = v
    for j in range(64):
        t = 0x79CC4519 if j < 16 else 0x7A879D8A
        ss1 = _rotl((_rotl(a, 12) + e + _rotl(t, j)) & _M32, 7)
        ss2 = ss1 ^ _rotl(a, 12)
        if j < 16:
            ff = a ^ b ^ c
            gg = e ^ f ^ g
        else:
            ff = (a & b) | (a & c) | (b & c)
            gg = (e & f) | ((~e & _M32) & g)
        tt1 = (ff + d + ss2 + w1[j]) & _M32
        tt2 = (gg + h + ss1 + w[j]) & _M32
        d = c
        c = _rotl(b, 9)
        b = a
        a = tt1
        h = g
        g = _rotl(f, 19)
        f = e
        e = _p0(tt2)
    return [x ^ y for x, y in zip([a, b, c, d, e, f, g, h], v)]


def sm3(data):
    data = bytes(data)
    bits = len(data) * 8
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + bits.to_bytes(8, "big")
    v = list(_SM3_IV)
    for i in range(0, len(padded), 64):
        v = _sm3_compress(v, padded[i : i + 64])
    return b"".join(x.to_bytes(4, "big") for x in v)


# ---------------------------------------------------------------------------------------------
# SM2 (GM/T 0003.2-2012 signatures on the GM/T 0003.5 recommended 256-bit curve)

SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
# RIDECODE.md: the default distinguishing ID.
SM2_DEFAULT_ID = b"1234567812345678"


def _ec_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % SM2_P == 0:
            return None
        lam = (3 * x1 * x1 + SM2_A) * pow(2 * y1, -1, SM2_P) % SM2_P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, SM2_P) % SM2_P
    x3 = (lam * lam - x1 - x2) % SM2_P
    return (x3, (lam * (x1 - x3) - y1) % SM2_P)


def _ec_mul(k, point):
    result = None
    while k:
        if k & 1:
            result = _ec_add(result, point)
        point = _ec_add(point, point)
        k >>= 1
    return result


def sm2_on_curve(point):
    x, y = point
    return 0 <= x < SM2_P and 0 <= y < SM2_P and (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P == 0


def sm2_keygen():
    """A fresh private key d in [1, n-2] and its public key as the 65-byte uncompressed point."""
    d = 1 + secrets.randbelow(SM2_N - 2)
    return d, sm2_point_bytes(_ec_mul(d, SM2_G))


def sm2_point_bytes(point):
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def sm2_za(public_key, user_id=SM2_DEFAULT_ID):
    """Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A), ENTL_A the ID's length in bits (2 bytes)."""
    assert len(public_key) == 65 and public_key[0] == 4
    entl = (len(user_id) * 8).to_bytes(2, "big")
    parts = [SM2_A, SM2_B, SM2_G[0], SM2_G[1]]
    return sm3(entl + user_id + b"".join(x.to_bytes(32, "big") for x in parts) + public_key[1:])


def sm2_sign(d, message, user_id=SM2_DEFAULT_ID):
    """GM/T 0003.2 section 6.1: e = SM3(Z_A ‖ M); r = (e + x1) mod n; s = (1 + d)^-1 (k - r d) mod n.
    Returns r ‖ s, 32 bytes each, big-endian (RIDECODE.md)."""
    public_key = sm2_point_bytes(_ec_mul(d, SM2_G))
    e = int.from_bytes(sm3(sm2_za(public_key, user_id) + bytes(message)), "big")
    while True:
        k = 1 + secrets.randbelow(SM2_N - 1)
        x1 = _ec_mul(k, SM2_G)[0]
        r = (e + x1) % SM2_N
        if r == 0 or r + k == SM2_N:
            continue
        s = pow(1 + d, -1, SM2_N) * (k - r * d) % SM2_N
        if s != 0:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sm2_verify(public_key, message, signature, user_id=SM2_DEFAULT_ID):
    """GM/T 0003.2 section 7.1, for the self-test (the corpus does not rely on it)."""
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < SM2_N and 1 <= s < SM2_N):
        return False
    point = (int.from_bytes(public_key[1:33], "big"), int.from_bytes(public_key[33:], "big"))
    e = int.from_bytes(sm3(sm2_za(public_key, user_id) + bytes(message)), "big")
    t = (r + s) % SM2_N
    if t == 0:
        return False
    xy = _ec_add(_ec_mul(s, SM2_G), _ec_mul(t, point))
    return xy is not None and (e + xy[0]) % SM2_N == r


# ---------------------------------------------------------------------------------------------
# Ed25519 (RFC 8032 section 5.1, after the reference code of section 6)

_ED_P = 2**255 - 19
_ED_D = -121665 * pow(121666, _ED_P - 2, _ED_P) % _ED_P
_ED_Q = 2**252 + 27742317777372353535851937790883648493
_ED_SQRT_M1 = pow(2, (_ED_P - 1) // 4, _ED_P)


def _ed_add(p1, p2):
    a = (p1[1] - p1[0]) * (p2[1] - p2[0]) % _ED_P
    b = (p1[1] + p1[0]) * (p2[1] + p2[0]) % _ED_P
    c = 2 * p1[3] * p2[3] * _ED_D % _ED_P
    d = 2 * p1[2] * p2[2] % _ED_P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _ED_P, g * h % _ED_P, f * g % _ED_P, e * h % _ED_P)


def _ed_mul(s, point):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _ed_add(q, point)
        point = _ed_add(point, point)
        s >>= 1
    return q


def _ed_recover_x(y, sign):
    if y >= _ED_P:
        return None
    x2 = (y * y - 1) * pow(_ED_D * y * y + 1, _ED_P - 2, _ED_P) % _ED_P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_ED_P + 3) // 8, _ED_P)
    if (x * x - x2) % _ED_P != 0:
        x = x * _ED_SQRT_M1 % _ED_P
    if (x * x - x2) % _ED_P != 0:
        return None
    if (x & 1) != sign:
        x = _ED_P - x
    return x


_ED_GY = 4 * pow(5, _ED_P - 2, _ED_P) % _ED_P
_ED_GX = _ed_recover_x(_ED_GY, 0)
_ED_G = (_ED_GX, _ED_GY, 1, _ED_GX * _ED_GY % _ED_P)


def _ed_compress(point):
    zinv = pow(point[2], _ED_P - 2, _ED_P)
    x, y = point[0] * zinv % _ED_P, point[1] * zinv % _ED_P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def ed25519_point_decodes(encoded):
    y = int.from_bytes(encoded, "little")
    return _ed_recover_x(y & ((1 << 255) - 1), y >> 255) is not None


def _ed_expand(secret):
    h = hashlib.sha512(secret).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(secret):
    return _ed_compress(_ed_mul(_ed_expand(secret)[0], _ED_G))


def ed25519_keygen():
    secret = secrets.token_bytes(32)
    return secret, ed25519_public(secret)


def ed25519_sign(secret, message):
    a, prefix = _ed_expand(secret)
    public = _ed_compress(_ed_mul(a, _ED_G))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _ED_Q
    big_r = _ed_compress(_ed_mul(r, _ED_G))
    h = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % _ED_Q
    return big_r + ((r + h * a) % _ED_Q).to_bytes(32, "little")


# ---------------------------------------------------------------------------------------------
# Base45 (RFC 9285)

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45_encode(data):
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += [BASE45_ALPHABET[c], BASE45_ALPHABET[d], BASE45_ALPHABET[e]]
    if len(data) % 2:
        n = data[-1]
        out += [BASE45_ALPHABET[n % 45], BASE45_ALPHABET[n // 45]]
    return "".join(out)


def base45_decode(text):
    """The bytes, or None when the text is not Base45 (a character outside the alphabet, a
    length of 1 modulo 3, a triple above 65535 or a pair above 255)."""
    if len(text) % 3 == 1:
        return None
    values = []
    for ch in text:
        i = BASE45_ALPHABET.find(ch)
        if i < 0:
            return None
        values.append(i)
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                return None
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                return None
            out.append(n)
    return bytes(out)


# ---------------------------------------------------------------------------------------------


def self_test():
    """Each primitive against its specification's own test vectors; raises AssertionError."""
    # GM/T 0004-2012 appendix A, examples 1 and 2.
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert sm2_on_curve(SM2_G) and _ec_mul(SM2_N, SM2_G) is None
    # RFC 8032 section 7.1, tests 1 and 2.
    s1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert ed25519_public(s1).hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert ed25519_sign(s1, b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f059"
        "5bbe24655141438e7a100b"
    )
    s2 = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    assert ed25519_sign(s2, b"\x72").hex() == (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4"
        "302aeeb00d291612bb0c00"
    )
    # RFC 9285 section 4.
    assert base45_encode(b"AB") == "BB8" and base45_encode(b"Hello!!") == "%69 VD92EX0"
    assert base45_decode("QED8WEX0") == b"ietf!" and base45_decode("GGW") is None
    d, pub = sm2_keygen()
    sig = sm2_sign(d, b"ride code")
    assert sm2_verify(pub, b"ride code", sig) and not sm2_verify(pub, b"ride codf", sig)
