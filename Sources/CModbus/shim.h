#include <modbus.h>

// libmodbus' own error numbers are macros over an expression, which Swift does not import:
// give them to the adapter (FaregateModbus/ModbusError.swift) as constants.
static inline int faregate_modbus_enobase(void) { return MODBUS_ENOBASE; }
static inline int faregate_modbus_ebadcrc(void) { return EMBBADCRC; }
static inline int faregate_modbus_ebaddata(void) { return EMBBADDATA; }
static inline int faregate_modbus_ebadexc(void) { return EMBBADEXC; }
static inline int faregate_modbus_eunkexc(void) { return EMBUNKEXC; }
static inline int faregate_modbus_emdata(void) { return EMBMDATA; }
static inline int faregate_modbus_ebadslave(void) { return EMBBADSLAVE; }
static inline int faregate_modbus_max_adu_length(void) { return MODBUS_MAX_ADU_LENGTH; }
