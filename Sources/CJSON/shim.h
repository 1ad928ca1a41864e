#ifndef OUTLIERLAB_CJSON_SHIM_H
#define OUTLIERLAB_CJSON_SHIM_H
#include <json.h>
#endif
