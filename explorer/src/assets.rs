//! The static files, built into the binary: the script, the style sheet and
//! snarkjs's browser build (from the npm package, when it was installed at build
//! time; see `build.rs`).

/// The explorer's script: charts, live updates, the in-browser proof check.
pub const APP_JS: &str = include_str!("../assets/app.js");

/// The style sheet.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

/// snarkjs 0.7's browser build, or `None` when `npm ci` had not run at build time.
#[cfg(snarkjs)]
pub const SNARKJS: Option<&str> = Some(include_str!(env!("ZKMETER_SNARKJS")));

/// snarkjs 0.7's browser build, or `None` when `npm ci` had not run at build time.
#[cfg(not(snarkjs))]
pub const SNARKJS: Option<&str> = None;
