#include "ligerbench/kernel_info.h"

#include "ligerbench/registry.h"

namespace ligerbench {

v1::KernelInfo kernel_info(const KernelSpec& k) {
  v1::KernelInfo ki;
  ki.set_name(k.name);
  ki.set_category(k.category);
  ki.set_description(k.description);
  for (const auto& a : k.axes) ki.add_axes(a.name + "=" + std::to_string(a.default_value));
  for (const auto& p : k.params) ki.add_params(p.name + "=" + p.default_value);
  for (const auto& d : k.dtypes) ki.add_dtypes(d);
  for (Mode m : k.modes) ki.add_modes(mode_name(m));
  for (const auto& b : kernel_backends(k)) ki.add_backends(b);
  return ki;
}

v1::ListKernelsResponse list_kernels() {
  v1::ListKernelsResponse out;
  for (const auto& k : kernel_registry()) *out.add_kernels() = kernel_info(k);
  return out;
}

}  // namespace ligerbench
