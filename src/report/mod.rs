//! Figures and the HTML report: what the analysis and the studies return, drawn and laid out.

pub mod arms;
pub mod checks;
pub mod figures;
pub mod html;
pub mod interactive;
mod law_panel;
pub mod papers;
pub mod plot;
pub mod scan_figures;
