#pragma once
// The generated schema (proto/ligerbench/v1), included through one header.
#include "ligerbench/v1/job.pb.h"
#include "ligerbench/v1/result.pb.h"
