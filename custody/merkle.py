"""RFC 6962 (Certificate Transparency) Merkle tree hashing, inclusion and consistency proofs.

leaf hash  = SHA-256(0x00 || leaf input)
node hash  = SHA-256(0x01 || left || right)
empty tree = SHA-256("")

The tree over n leaves splits at k, the largest power of two smaller than n (RFC 6962 §2.1).
Proof verification follows RFC 9162 §2.1.3.2 and §2.1.4.2, so proofs produced here verify with
any CT / C2SP tlog implementation and vice versa.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash over already-hashed leaves (iterative, O(n))."""
    if not leaves:
        return EMPTY_ROOT
    # Fold complete subtrees from the right edge the way RFC 6962 splits: build level by level,
    # carrying an odd last node up unchanged (equivalent to the recursive definition).
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaf_inputs: Sequence[bytes]) -> bytes:
    return root_from_leaf_hashes([leaf_hash(d) for d in leaf_inputs])


def _subtree(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    return root_from_leaf_hashes(leaves[lo:hi])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for leaf `index` in the tree of `leaves` (leaf hashes), RFC 6962 §2.1.1."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError("leaf index out of range")
    path: list[bytes] = []
    lo, hi, m = 0, n, index
    # Walk down from the root, collecting the sibling subtree at each split.
    stack: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            stack.append(_subtree(leaves, lo + k, hi))
            hi = lo + k
        else:
            stack.append(_subtree(leaves, lo, lo + k))
            lo, m = lo + k, m - k
    path = list(reversed(stack))
    return path


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `leaf` (a leaf hash) sit at `index` of the tree with this root?"""
    if index >= tree_size or index < 0:
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 6962 §2.1.2 proof that the first `old_size` leaves are a prefix of `leaves`."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise ValueError("old tree size must be between 1 and the current size")
    if old_size == n:
        return []

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        size = hi - lo
        if m == size:
            return [] if complete else [_subtree(leaves, lo, hi)]
        k = _split(size)
        if m <= k:
            return [*subproof(m, lo, lo + k, complete), _subtree(leaves, lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), _subtree(leaves, lo, lo + k)]

    return subproof(old_size, 0, n, True)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (old_size, old_root) a prefix of (new_size, new_root)?"""
    if old_size < 1 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
