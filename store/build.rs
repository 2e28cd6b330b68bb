//! `sqlx::migrate!` embeds `migrations/` at compile time, but cargo does not know
//! the macro reads those files: without this a new or edited migration would not
//! reach the binary until something else made the crate rebuild.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
