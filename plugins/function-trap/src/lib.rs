//! Fixture: a function that panics on every call. Plugins are built with `panic = "abort"`, so
//! the panic is a trap (`unreachable`): the host must answer 500 and count a plugin fault.

use portico_sdk::serde_json::Value;

#[portico_sdk::function]
fn handle(_event: Value) -> Result<Value, String> {
    panic!("function-trap: this function always traps");
}
