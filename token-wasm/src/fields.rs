//! Reading the JS objects that come in (options, token answers, messages
//! from other tabs) field by field, with typed getters: a field of the wrong
//! type reads as absent, and the caller says what that means.
//!
//! serde-wasm-bindgen turns the values going out into JS (state, error
//! details, messages to other tabs). Its deserializer is not used for the
//! ones coming in: its type errors (`invalid type: floating point …`) link
//! Rust's float formatting, about 10 KB gzipped of download for messages
//! nobody reads (BENCHMARKS.md, "token-wasm: size, still").

use wasm_bindgen::JsValue;

/// `object[name]`, or `undefined` when absent or when `object` is no object.
pub fn get(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[name]` if it is a string.
pub fn string(object: &JsValue, name: &str) -> Option<String> {
    get(object, name).as_string()
}

/// `object[name]` if it is a number.
pub fn number(object: &JsValue, name: &str) -> Option<f64> {
    get(object, name).as_f64()
}

/// Whether a value counts as left out (`undefined` or `null`).
pub fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}
