// Package run is the stn3d application on top of the graph library: the
// YAML run configuration (Config, LoadConfig), loading the morphable model
// and opening the configured data (Setup), the training loop with
// validation, checkpoints and metrics (Train), evaluation (Evaluate),
// applying a trained model to photographs (Normalize) and the run
// directory that ties them together (RunDir, LoadTrained).
//
// A program that only needs the STN inside its own network imports graph,
// which depends on none of this (no YAML, no dataset readers, no SQLite).
package run
