//! Hand-written async without an executor: an operation is a [`Task`], a
//! state machine resumed with the outcome of whatever it last waited for, and
//! [`spawn`] hooks each wait onto `Promise.then` (or `setTimeout`) and turns
//! the task into the `Promise` handed to JS.
//!
//! Why not `async fn` with `wasm-bindgen-futures`: its executor (task queue,
//! wakers, `JsFuture`, a copy of the glue per future type) was ~3.5 KB of the
//! download, for three small state machines (see BENCHMARKS.md).

use alloc::boxed::Box;

use js_sys::{Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::http::{Callback, call, set_timeout};

/// What a task does next.
#[derive(Debug)]
pub enum Step {
    /// Resume with this promise's outcome (`Ok` value or `Err` reason).
    Await(Promise),
    /// Resume with `Ok(undefined)` after this many milliseconds.
    Sleep(f64),
    /// Finished: resolve (`Ok`) or reject (`Err`) the task's promise.
    Done(Result<JsValue, JsValue>),
}

/// An operation written as a state machine.
pub trait Task {
    /// Advance with the outcome of the last [`Step::Await`] (or `Ok(undefined)`
    /// at the start and after a [`Step::Sleep`]) and say what comes next.
    fn resume(&mut self, input: Result<JsValue, JsValue>) -> Step;
}

#[wasm_bindgen]
extern "C" {
    /// A promise as [`advance`] uses it.
    type Thenable;

    /// `promise.then(onFulfilled, onRejected)` with plain functions.
    #[wasm_bindgen(method, js_name = then)]
    fn then(this: &Thenable, on_fulfilled: &Function, on_rejected: &Function) -> JsValue;
}

/// A task between steps, with the functions that settle its promise.
struct Running {
    task: Box<dyn Task>,
    resolve: Function,
    reject: Function,
}

/// Start `task` now (its first step runs before this returns) and return the
/// promise of its outcome.
pub fn spawn(task: Box<dyn Task>) -> Promise {
    let mut task = Some(task);
    Promise::new(&mut |resolve, reject| {
        if let Some(task) = task.take() {
            advance(Box::new(Running { task, resolve, reject }), Ok(JsValue::UNDEFINED));
        }
    })
}

/// Run one step and arrange for the next.
fn advance(mut running: Box<Running>, input: Result<JsValue, JsValue>) {
    match running.task.resume(input) {
        Step::Await(promise) => {
            let next = continuation(running);
            let thenable = promise.unchecked_into::<Thenable>();
            thenable
                .then(&next.bind_arg(&JsValue::NULL, &JsValue::TRUE), &next.bind_arg(&JsValue::NULL, &JsValue::FALSE));
        }
        Step::Sleep(ms) => {
            set_timeout(&continuation(running).bind_arg(&JsValue::NULL, &JsValue::TRUE), ms);
        }
        Step::Done(outcome) => {
            let (settle, value) = match outcome {
                Ok(value) => (&running.resolve, value),
                Err(reason) => (&running.reject, reason),
            };
            let _ = call(
                settle,
                &value,
                &JsValue::UNDEFINED,
                &JsValue::UNDEFINED,
                &JsValue::UNDEFINED,
                &JsValue::UNDEFINED,
            );
        }
    }
}

/// `(isFulfilled, value) => …` resuming `running`, at most once. Every task
/// and wait shares this one closure type, so its glue exists once. The
/// closure is owned by the JS function: it is freed when that is collected.
fn continuation(running: Box<Running>) -> Callback {
    let mut running = Some(running);
    let resume: Box<dyn FnMut(bool, JsValue)> = Box::new(move |is_fulfilled, value| {
        if let Some(running) = running.take() {
            advance(running, if is_fulfilled { Ok(value) } else { Err(value) });
        }
    });
    Closure::wrap_aborting(resume).into_js_value().unchecked_into()
}
