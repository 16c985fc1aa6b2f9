#pragma once
// Why the metrics HTTP server could not start. prometheus-cpp's Exposer only says
// "null context when constructing CivetServer"; civetweb's own mg_start2 reports the reason
// (bind failure, thread creation, library initialisation), so a failed start is repeated
// through it to name the cause in the error.

#include <string>

namespace ligerbench::server {

// Starts and stops a civetweb context with the Exposer's options on `listen`; returns
// civetweb's error code, text and log lines if it fails.
std::string civetweb_start_error(const std::string& listen);

}  // namespace ligerbench::server
