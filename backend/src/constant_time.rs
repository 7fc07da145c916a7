//! Comparing secrets (states, nonces, PKCE challenges, client secrets) in
//! constant time, so the time a comparison takes says nothing about how much of
//! a guess was right. A leaf: it imports nothing of ours.

use subtle::ConstantTimeEq;

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
pub fn eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    /// Equal, different, and different lengths.
    #[test]
    fn compares_contents_and_lengths() {
        assert!(super::eq("state-1", "state-1"));
        assert!(!super::eq("state-1", "state-2"));
        assert!(!super::eq("state", "state-1"));
    }
}
