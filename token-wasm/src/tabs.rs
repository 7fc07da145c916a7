//! One token per endpoint for all the tabs of an origin: a Web Lock per
//! endpoint (`navigator.locks`) lets one tab at a time ask the server, and the
//! token it gets is handed to the other tabs over a `BroadcastChannel`, memory
//! to memory (never Web Storage, IndexedDB or cookies). Where either API is
//! missing, [`Tabs::join`] returns `None` and the client works alone.
//!
//! The lock holder first asks the other members for a token ([`Tabs::gather`]):
//! a tab that opened after the last hand-off has not seen it, and the browser
//! may grant the lock before relaying the token the previous holder posted.
//! Each member holds a presence lock named after it, so the holder knows how
//! many answers to wait for.
//!
//! The browser releases a Web Lock when the tab holding it closes (or is
//! discarded), so a tab that goes away mid-request does not leave the others
//! waiting: the next one in the queue gets the lock and asks the server. A
//! tab that merely stalls holds the lock at most for its request's timeout
//! and retries.
//!
//! Trust: any script of the origin can post on the channel, but such a
//! script can already call the token route itself, so accepting its tokens
//! grants it nothing new; a malformed message is ignored.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use js_sys::{Function, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::fields;

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`. Bound by hand: web-sys offers `LockManager` only
    /// behind `--cfg=web_sys_unstable_apis`, which would have to be set for
    /// every build of the crate; the one method used is declared here.
    type LockManager;

    /// `locks.request(name, callback)`: runs `callback` once this tab holds
    /// the exclusive lock `name`, holds it until the promise the callback
    /// returns settles, and resolves or rejects as that promise does.
    #[wasm_bindgen(method, catch)]
    fn request(this: &LockManager, name: &str, callback: &Function) -> Result<Promise, JsValue>;

    /// `locks.query()`: a snapshot `{ held: [{ name }], pending }`.
    #[wasm_bindgen(method, catch)]
    fn query(this: &LockManager) -> Result<Promise, JsValue>;
}

/// What one tab tells the others about a token route.
#[derive(Debug, PartialEq)]
pub enum Message {
    /// A token this tab fetched, valid until `expires_at` (epoch ms; tabs of
    /// one machine share the wall clock).
    Token {
        /// The access token.
        access_token: String,
        /// Epoch ms at which the server says it expires.
        expires_at: f64,
    },
    /// The lock holder asks for the freshest token: answer with a `Token`
    /// (or nothing).
    Wanted,
}

/// What goes over the channel: `{ accessToken, expiresAt }` for a `Token`,
/// `{ want }` for `Wanted`, and an answer to a want as
/// `{ re, accessToken?, expiresAt? }`. (A channel object never receives its
/// own posts, so no sender id is needed.) A flat struct rather than a
/// tagged enum: serde's internally tagged enums buffer their input
/// generically, which cost ~6 KB gzipped of download size here.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    /// A request for tokens, with its marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    want: Option<f64>,
    /// The marker of the request this message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    re: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<f64>,
}

impl Wire {
    /// A message as posted by another member (fields of the wrong type read as absent).
    fn read(data: &JsValue) -> Self {
        Self {
            want: fields::number(data, "want"),
            re: fields::number(data, "re"),
            access_token: fields::string(data, "accessToken"),
            expires_at: fields::number(data, "expiresAt"),
        }
    }

    /// The message, or `None` for a malformed one (half a token, an empty
    /// token) or an answer without a token.
    fn into_message(self) -> Option<Message> {
        match (self.access_token, self.expires_at) {
            (None, None) if self.want.is_some() => Some(Message::Wanted),
            (Some(access_token), Some(expires_at)) if !access_token.is_empty() => {
                Some(Message::Token { access_token, expires_at })
            }
            _ => None,
        }
    }
}

/// The request for tokens in progress: its marker, how many answers are
/// still due, and the function that ends the wait.
type Gathering = Rc<RefCell<Option<(f64, usize, Function)>>>;

/// A request for tokens waits at most this long for its answers (which in
/// practice take a few ms): a frozen tab that cannot answer must not hold the
/// lock for long. After it, the tab simply asks the server.
const GATHER_BOUND_MS: u32 = 1_000;

/// This tab's membership in the group of tabs sharing one token route.
#[derive(Debug)]
pub struct Tabs {
    channel: BroadcastChannel,
    /// This member's presence lock: `<name>:member:<random>`.
    presence: String,
    /// The request for tokens in progress, counted down by the channel.
    gathering: Gathering,
    /// `navigator.locks` (a [`LockManager`]; kept as `JsValue` for `Debug`).
    locks: JsValue,
    /// Lock and channel name: `token-wasm:` + the endpoint as configured.
    /// `js/early.js` takes the same lock for a client whose module is not
    /// ready, and reads the presence locks by these names before it sends the
    /// request, unless no other tab's presence lease is live (`js/lease.js`):
    /// then it sends first and takes the lock alongside.
    name: String,
    /// Ends this member's presence lock (resolves the promise it holds).
    leave: Option<Function>,
    /// Kept alive while the channel may call it; dropped with `self`.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Tabs {
    /// Join the group of `endpoint`, calling `on_message` with every valid
    /// message another member posts (and posting the `Token` it returns for
    /// a `Wanted`); `None` where `BroadcastChannel` or `navigator.locks` is
    /// missing (old browsers, Node, some workers).
    pub fn join(endpoint: &str, on_message: impl Fn(Message) -> Option<Message> + 'static) -> Option<Self> {
        let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).ok()?;
        let locks = Reflect::get(&navigator, &JsValue::from_str("locks")).ok().filter(JsValue::is_object)?;
        let mut name = String::from("token-wasm:");
        name.push_str(endpoint);
        let channel = BroadcastChannel::new(&name).ok()?;
        // Random digits written by JS: Rust's float formatting costs download size.
        let mut presence = name.clone();
        presence.push_str(":member:");
        presence.push_str(&String::from(
            js_sys::Number::from(js_sys::Math::random()).to_string_with_radix(36).unwrap_or_default(),
        ));
        let gathering = Gathering::default();
        let pending = Rc::clone(&gathering);
        let replies = channel.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let wire = Wire::read(&event.data());
            let (want, re) = (wire.want, wire.re);
            if let Some(answer) = wire.into_message().and_then(&on_message) {
                if let (Some(marker), Message::Token { access_token, expires_at }) = (want, answer) {
                    let answer = Wire {
                        re: Some(marker),
                        access_token: Some(access_token),
                        expires_at: Some(expires_at),
                        ..Wire::default()
                    };
                    send(&replies, &answer);
                }
            } else if let Some(marker) = want {
                send(&replies, &Wire { re: Some(marker), ..Wire::default() });
            }
            // Counted after the token in it (if any) was taken.
            let mut pending = pending.borrow_mut();
            if let (Some((expected, due, _)), Some(marker)) = (pending.as_mut(), re) {
                if *expected == marker {
                    *due = due.saturating_sub(1);
                    if *due == 0 {
                        if let Some((_, _, done)) = pending.take() {
                            let _ = done.call0(&JsValue::UNDEFINED);
                        }
                    }
                }
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let mut tabs = Self { channel, presence, gathering, locks, name, leave: None, _on_message: on_message };
        tabs.leave = tabs.hold_presence();
        Some(tabs)
    }

    /// Hold the lock `<name>:member:<random>` until [`Drop`] (or the tab closes),
    /// so [`Self::gather`] can count the members. Returns the function that
    /// releases it.
    fn hold_presence(&self) -> Option<Function> {
        let mut leave = None;
        let held = Promise::new(&mut |resolve, _| leave = Some(resolve));
        let callback = Closure::once_into_js(move |_lock: JsValue| held);
        let request =
            self.locks.unchecked_ref::<LockManager>().request(&self.presence, callback.unchecked_ref()).ok()?;
        // Observed, so a refused lock (opaque origin) is not an unhandled rejection.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(request).await;
        });
        leave
    }

    /// How many other members hold a presence lock right now.
    async fn others(&self) -> usize {
        let Ok(query) = self.locks.unchecked_ref::<LockManager>().query() else { return 0 };
        let Ok(snapshot) = JsFuture::from(query).await else { return 0 };
        let held = Reflect::get(&snapshot, &JsValue::from_str("held")).unwrap_or(JsValue::UNDEFINED);
        let mut prefix = self.name.clone();
        prefix.push_str(":member:");
        js_sys::Array::from(&held)
            .iter()
            .filter_map(|lock| Reflect::get(&lock, &JsValue::from_str("name")).ok()?.as_string())
            .filter(|name| name.starts_with(&prefix) && *name != self.presence)
            .count()
    }

    /// Ask every other member for its token and wait (at most
    /// [`GATHER_BOUND_MS`]) until each answered; their tokens reach
    /// `on_message` as `Token`s before this returns. The lock holder calls
    /// this before asking the server.
    pub async fn gather(&self) {
        let others = self.others().await;
        if others == 0 {
            return;
        }
        let marker = js_sys::Math::random();
        let mut done = None;
        let answered = Promise::new(&mut |resolve, _| done = Some(resolve));
        let Some(done) = done else { return };
        *self.gathering.borrow_mut() = Some((marker, others, done.clone()));
        let _bound = Timeout::new(GATHER_BOUND_MS, move || {
            let _ = done.call0(&JsValue::UNDEFINED);
        });
        send(&self.channel, &Wire { want: Some(marker), ..Wire::default() });
        let _ = JsFuture::from(answered).await;
        self.gathering.borrow_mut().take();
    }

    /// Hand a token this tab fetched to the other members (a failure to
    /// post loses only the hand-off).
    pub fn post_token(&self, access_token: String, expires_at: f64) {
        let wire = Wire { access_token: Some(access_token), expires_at: Some(expires_at), ..Wire::default() };
        send(&self.channel, &wire);
    }

    /// Run `start` while this tab holds the route's lock, so at most one
    /// tab runs it at a time, and wait for the promise it returns. Where the
    /// lock cannot be taken (an opaque origin rejects with `SecurityError`),
    /// it runs without it: working alone beats not working.
    pub async fn exclusive(&self, start: impl FnOnce() -> Promise + 'static) -> Result<JsValue, JsValue> {
        let start = Rc::new(Cell::new(Some(start)));
        let held = Rc::clone(&start);
        let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
            match held.take() {
                Some(start) => start(),
                None => Promise::resolve(&JsValue::UNDEFINED),
            }
        });
        let outcome = match self.locks.unchecked_ref::<LockManager>().request(&self.name, callback.unchecked_ref()) {
            Ok(promise) => JsFuture::from(promise).await,
            Err(error) => Err(error),
        };
        match (outcome, start.take()) {
            // The lock was refused before the task ran: run it alone.
            (Err(_), Some(start)) => JsFuture::from(start()).await,
            (outcome, _) => outcome,
        }
    }
}

impl Drop for Tabs {
    /// Leave the channel, so a dropped client no longer receives (or keeps
    /// the page's channel open).
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
        if let Some(leave) = self.leave.take() {
            let _ = leave.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Post `wire` on `channel`; a failure loses only that message (a request
/// for tokens then ends at its time bound).
fn send(channel: &BroadcastChannel, wire: &Wire) {
    if let Ok(value) = serde_wasm_bindgen::to_value(wire) {
        let _ = channel.post_message(&value);
    }
}
