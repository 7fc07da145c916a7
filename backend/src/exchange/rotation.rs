//! The client's credential as it is now: read again when its file changes
//! (checked before each call), and once more after the upstream refused the
//! client, in which case the call is retried once with what was read.

use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{Exchange, ExchangeError};
use crate::provider::{ClientProof, ProofFile};

/// The current proof, shared by every clone of the [`Exchange`].
#[derive(Debug)]
pub(super) struct Credentials {
    current: ArcSwap<ClientProof>,
    file: Option<Arc<ProofFile>>,
}

impl Credentials {
    pub(super) fn new(proof: ClientProof, file: Option<Arc<ProofFile>>) -> Self {
        Self { current: ArcSwap::from_pointee(proof), file }
    }

    /// The proof to send now; a changed file is read first.
    pub(super) fn current(&self) -> Arc<ClientProof> {
        if let Some(proof) = self.file.as_ref().and_then(|file| file.reload(false)) {
            self.current.store(Arc::new(proof));
        }
        self.current.load_full()
    }

    /// After a refusal: the file's content when it differs from what was sent.
    fn reread_after_refusal(&self) -> Option<Arc<ClientProof>> {
        let proof = Arc::new(self.file.as_ref()?.reload(true)?);
        self.current.store(Arc::clone(&proof));
        Some(proof)
    }
}

/// The upstream says our client credential is wrong: RFC 6749's
/// `invalid_client`, or APS's `401 invalid_credentials`.
fn is_refused_client(error: &ExchangeError) -> bool {
    matches!(error, ExchangeError::Rejected { status, error, .. }
        if error == "invalid_client" || (*status == 401 && error == "invalid_credentials"))
}

impl Exchange {
    /// Runs `call` with the current proof; when the upstream refuses the client
    /// and the credential file now holds something else, once more with that.
    pub(super) async fn with_current_proof<T, F, Fut>(&self, call: F) -> Result<T, ExchangeError>
    where
        F: Fn(Arc<ClientProof>) -> Fut,
        Fut: Future<Output = Result<T, ExchangeError>>,
    {
        match call(self.credentials.current()).await {
            Err(error) if is_refused_client(&error) => match self.credentials.reread_after_refusal() {
                Some(proof) => call(proof).await,
                None => Err(error),
            },
            result => result,
        }
    }
}
