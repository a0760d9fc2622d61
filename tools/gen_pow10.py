#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""gen_pow10.py -- the powers of ten of src/web/json.c's double formatter, and the
proof that they are precise enough.

Writes src/web/json_pow10.h: for every decimal exponent k in [-324, 292] the
127-bit integer g(k) = ceil(10^-k * 2^gamma) with gamma chosen so that
2^126 <= g(k) < 2^127 (gamma = 126 - floor(log2 10^-k)), as two 64-bit halves.

Run by hand, from the top of the repository, when json.c's method changes:

    python3 tools/gen_pow10.py > src/web/json_pow10.h
    python3 tools/gen_pow10.py --check      # the committed file is up to date
    python3 tools/gen_pow10.py --closest 30 # the doubles nearest the limit of check 3

Before it writes anything it checks, with Python's exact integers, every fact
json.c relies on (the names are json.c's):

 1. The integer formulas of json.c for k = floor(log10 2^q) (symmetric rounding
    interval), k = floor(log10(3/4 2^q)) (the interval of a power of two, whose
    lower half is halved) and floor(log2 10^e) are exact for every exponent a
    finite double can have.
 2. For each binary exponent q and each k it can meet, the shift
    sigma = q + 2 + floor(log2 10^-k) is at least 0 and every operand
    u << sigma (u = 4c - 2, 4c - 1, 4c, 4c + 2 for the 53-bit significands c)
    is below 2^62.
 3. The products are exact enough. json.c wants, for V = u 2^q 10^-k (four
    times x = c 2^q, or an end of its rounding interval, over 10^k), floor(V)
    and whether V is an integer. It forms P = (u << sigma) * g(k) = H 2^128 + L
    (L < 2^128) and reads floor(V) = H, "not an integer" = (L >= 2^62).
    P = V 2^128 + (u << sigma) * (g(k) - 10^-k 2^gamma), and the second term
    lies in [0, 2^62) since g(k) overestimates by less than 1; so both readings
    are right when the fractional part of V is 0 or lies in [2^-66, 1 - 2^-66].
    For a power of two (c = 2^52, the asymmetric interval) the three u are
    checked one by one. Otherwise every u is even and V = w N / D with
    w = u / 2 <= 2^54 + 1 and N / D = 2^(q+1-k) 5^-k in lowest terms; when
    D <= 2^66 the condition is automatic, else the smallest and largest value
    of (w N mod D) over 1 <= w <= 2^54 + 1 are found with a Stern-Brocot
    descent (a few dozen steps per exponent, checked against brute force on
    small numbers first) and compared with D / 2^66. (The closest call is
    q = 664: a fraction of 2^-65.44.)

The whole check takes a few seconds; it exits with status 1 and a message if
anything fails, and then writes nothing.
"""
import sys
from fractions import Fraction

K_MIN, K_MAX = -324, 292
Q_MIN, Q_MAX = -1074, 971  # binary exponents: x = c * 2^q, c < 2^53

# The formulas of src/web/json.c, transcribed; check 1 holds them to the exact values.
def json_c_k_symmetric(q):
    return ((q * 315653 + (1 << 29)) >> 20) - 512


def json_c_k_asymmetric(q):
    return ((q * 315653 - 130808 + (1 << 29)) >> 20) - 512


def json_c_log2_pow10(e):
    return ((e * 108853 + (1024 << 15)) >> 15) - 1024


def int32_ok(*values):
    """json.c evaluates the formulas above in int: no intermediate may overflow."""
    return all(-(1 << 31) <= v < (1 << 31) for v in values)


def fail(msg):
    sys.stderr.write("gen_pow10.py: check failed: %s\n" % msg)
    sys.exit(1)


def floor_log10(x):
    """floor(log10 x) for a positive Fraction, exactly."""
    k = len(str(x.numerator)) - len(str(x.denominator))
    while Fraction(10) ** k > x:
        k -= 1
    while Fraction(10) ** (k + 1) <= x:
        k += 1
    return k


def floor_log2(x):
    """floor(log2 x) for a positive Fraction, exactly."""
    j = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** j > x:
        j -= 1
    while Fraction(2) ** (j + 1) <= x:
        j += 1
    return j


def g_of(k):
    t = Fraction(10) ** -k
    gamma = 126 - floor_log2(t)
    scaled = t * Fraction(2) ** gamma
    g = -((-scaled.numerator) // scaled.denominator)  # ceiling
    if not (1 << 126) <= g < (1 << 127):
        fail("g(%d) out of range" % k)
    return g


def residue_extremes(a, d, m):
    """(min, max) of (a * i) mod d over 1 <= i <= m, for 0 < a < d, gcd(a, d) = 1, m < d.

    Stern-Brocot descent towards a/d: the lower fraction pl/ql and upper pu/qu
    (pu ql - pl qu = 1) carry the residues rl = a ql - d pl > 0 and ru = d pu - a qu > 0.
    Once ql + qu > m, every i <= m is x ql + y qu with integers x, y such that
    a i mod d is rl or more and d - (a i mod d) is ru or more: min = rl, max = d - ru.
    """
    ql, rl, qu, ru = 1, a, 1, d - a
    while ql + qu <= m:
        if rl > ru:
            t = min((rl - 1) // ru, (m - ql) // qu)
            ql, rl = ql + t * qu, rl - t * ru
        elif ru > rl:
            t = min((ru - 1) // rl, (m - qu) // ql)
            qu, ru = qu + t * ql, ru - t * rl
        else:
            fail("exact fraction a/d with denominator <= m")
        if t == 0:
            break
    return rl, d - ru


def self_test_residues():
    import random
    rnd = random.Random(1)
    for _ in range(3000):
        d = rnd.randrange(2, 3000)
        a = rnd.randrange(1, d)
        from math import gcd
        if gcd(a, d) != 1:
            continue
        m = rnd.randrange(1, d)
        vals = [(a * i) % d for i in range(1, m + 1)]
        if residue_extremes(a, d, m) != (min(vals), max(vals)):
            fail("residue_extremes(%d, %d, %d)" % (a, d, m))


def check_exponent(q, k, us, u_range):
    """Checks 2 and 3 for one (q, k); us: the largest u, u_range: the list of the u
    that occur, or None for every even u up to 4 (2^53 - 1) + 2."""
    sigma = q + 2 + json_c_log2_pow10(-k)
    if sigma < 0 or (us << sigma) >= (1 << 62):
        fail("q=%d k=%d: shift %d" % (q, k, sigma))
    ratio = Fraction(2) ** (q - k) * Fraction(5) ** -k
    n, d = ratio.numerator, ratio.denominator
    if u_range is not None:
        for u in u_range:
            f = (u * n) % d
            if f != 0 and (f << 66 < d or (d - f) << 66 < d):
                fail("q=%d k=%d u=%d: fractional part too close to an integer" % (q, k, u))
        return
    # In the symmetric case every u is even (4c - 2, 4c, 4c + 2): V = w N' / D' with
    # w = u / 2 <= 2^54 + 1 and N' / D' = 2 N / D in lowest terms.
    ratio *= 2
    n, d = ratio.numerator, ratio.denominator
    if d <= (1 << 66):
        return
    lo, hi = residue_extremes(n % d, d, (1 << 54) + 1)
    if lo << 66 < d or (d - hi) << 66 < d:
        fail("q=%d k=%d: fractional part too close to an integer" % (q, k))


def run_checks():
    self_test_residues()
    c_max = (1 << 53) - 1
    seen = set()
    for q in range(Q_MIN, Q_MAX + 1):
        width = Fraction(2) ** q
        k = json_c_k_symmetric(q)
        if k != floor_log10(width) or not int32_ok(q * 315653 + (1 << 29)):
            fail("k_symmetric(%d)" % q)
        check_exponent(q, k, 4 * c_max + 2, None)
        seen.add(k)
        if q > Q_MIN:  # c = 2^52 with a smaller predecessor spacing
            k = json_c_k_asymmetric(q)
            if k != floor_log10(Fraction(3, 4) * width) or not int32_ok(
                q * 315653 - 130808 + (1 << 29), q * 315653 - 130808):
                fail("k_asymmetric(%d)" % q)
            c = 1 << 52
            check_exponent(q, k, 4 * c + 2, [4 * c - 1, 4 * c, 4 * c + 2])
            seen.add(k)
    if min(seen) != K_MIN or max(seen) != K_MAX:
        fail("k range %d..%d" % (min(seen), max(seen)))
    for e in range(-K_MAX, -K_MIN + 1):
        if json_c_log2_pow10(e) != floor_log2(Fraction(10) ** e) or not int32_ok(
            e * 108853 + (1024 << 15)):
            fail("log2_pow10(%d)" % e)


def closest_calls(count):
    """The doubles whose products come closest to the limit of check 3: for each q,
    the w of the smallest and largest residue (when it belongs to a double of that
    exponent), as (log2 of the distance to the integer, bits, operand)."""
    found = []
    for q in range(Q_MIN, Q_MAX + 1):
        k = json_c_k_symmetric(q)
        ratio = Fraction(2) ** (q + 1 - k) * Fraction(5) ** -k
        n, d = ratio.numerator, ratio.denominator
        if d <= (1 << 66):
            continue
        a, m = n % d, (1 << 54) + 1
        ql, rl, qu, ru = 1, a, 1, d - a
        while ql + qu <= m:  # residue_extremes, keeping the arguments
            if rl > ru:
                t = min((rl - 1) // ru, (m - ql) // qu)
                ql, rl = ql + t * qu, rl - t * ru
            else:
                t = min((ru - 1) // rl, (m - qu) // ql)
                qu, ru = qu + t * ql, ru - t * rl
        for w, dist in ((ql, rl), (qu, ru)):
            cs = [(w // 2, "x")] if w % 2 == 0 else [((w + 1) // 2, "lower end"),
                                                       ((w - 1) // 2, "upper end")]
            for c, which in cs:
                lo = 1 if q == Q_MIN else 1 << 52
                if not lo <= c < (1 << 53):
                    continue
                biased = 0 if q == Q_MIN and c < (1 << 52) else q + 1075
                bits = (biased << 52) | (c & ((1 << 52) - 1))
                found.append((Fraction(dist, d), bits, which, q))
    found.sort()
    return found[:count]


def render():
    out = []
    out.append("/* SPDX-License-Identifier: AGPL-3.0-or-later */")
    out.append("/*")
    out.append(" * json_pow10.h -- GENERATED by tools/gen_pow10.py (python3 tools/gen_pow10.py >")
    out.append(" * src/web/json_pow10.h); do not edit. Included by src/web/json.c only.")
    out.append(" *")
    out.append(" * json_pow10[k - JSON_POW10_K_MIN] = ceil(10^-k * 2^(126 - floor(log2 10^-k))),")
    out.append(" * the 127-bit upper approximation of 10^-k, as {high 64 bits, low 64 bits}.")
    out.append(" * The generator proves these precise enough for every finite double (see its")
    out.append(" * docstring) before writing them.")
    out.append(" */")
    out.append("#ifndef PT_WEB_JSON_POW10_H")
    out.append("#define PT_WEB_JSON_POW10_H")
    out.append("")
    out.append("#include <stdint.h>")
    out.append("")
    out.append("#define JSON_POW10_K_MIN (%d)" % K_MIN)
    out.append("#define JSON_POW10_K_MAX %d" % K_MAX)
    out.append("")
    out.append("static const uint64_t json_pow10[%d][2] = {" % (K_MAX - K_MIN + 1))
    for k in range(K_MIN, K_MAX + 1):
        g = g_of(k)
        out.append("    {0x%016xU, 0x%016xU}, /* 10^%d */" % (g >> 64, g & ((1 << 64) - 1), -k))
    out.append("};")
    out.append("")
    out.append("#endif")
    return "\n".join(out) + "\n"


def main():
    run_checks()
    if sys.argv[1:2] == ["--closest"]:
        import math
        for frac, bits, which, q in closest_calls(int(sys.argv[2])):
            print("0x%016x  q=%d  %s: fraction %.2f bits from an integer" % (
                bits, q, which, math.log2(frac)))
        return
    text = render()
    if sys.argv[1:] == ["--check"]:
        with open("src/web/json_pow10.h") as f:
            if f.read() != text:
                fail("src/web/json_pow10.h differs from the generator's output")
        sys.stderr.write("gen_pow10.py: checks pass, src/web/json_pow10.h is up to date\n")
        return
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
