// Chinese texts of the modeler (diagram-js/bpmn-js/properties panel strings and Caseflow's own).
// English is the source language: a missing entry shows the English text.
export const zh = {
  'General': '常规',
  'Name': '名称',
  'ID': '标识',
  'Documentation': '说明',
  'Element documentation': '元素说明',
  'Process documentation': '流程说明',
  'Executable': '可执行',
  'Version tag': '版本标签',
  'Timer': '定时器',
  'Type': '类型',
  'Value': '值',
  'Condition': '条件',
  'Multi-instance': '多实例',
  'Inputs': '输入',
  'Outputs': '输出',
  'Select an element to edit its properties.': '选择一个元素以编辑其属性。',
  'Multiple elements are selected. Select a single one to edit its properties.': '选中了多个元素,请只选一个以编辑其属性。',
  'Caseflow operator': 'Caseflow 规则',
  'Operator': '规则(operator)',
  '(choose an operator)': '(请选择规则)',
  'not in the registry': '未注册',
  'What it does': '作用',
  'The rule this task runs (see `caseflow operators`).': '此任务运行的规则(见 `caseflow operators`)。',
  'Default: %s': '默认值:%s',
  '(required)': '(必填)',
  'This parameter is required.': '此参数必填。',
  'Enter a whole number.': '请输入整数。',
  'Enter a number.': '请输入数字。',
  'Enter true or false.': '请输入 true 或 false。',
  "Enter a list, e.g. ['a', 'b'].": "请输入列表,例如 ['a', 'b']。",
  "Enter a mapping, e.g. {'a': 1}.": "请输入映射,例如 {'a': 1}。",
  'Caseflow task': 'Caseflow 任务',
  'Name (Chinese)': '中文名称',
  'Form file': '表单文件',
  '(no form)': '(无表单)',
  'missing in the bundle': '不在流程包中',
  'Instructions (English)': '说明(英文)',
  'Instructions (Chinese)': '说明(中文)',
  'Activate the hand tool': '启用抓手工具',
  'Activate the lasso tool': '启用套索工具',
  'Activate the create/remove space tool': '启用创建/删除空间工具',
  'Activate the global connect tool': '启用全局连接工具',
  'Create start event': '创建开始事件',
  'Create end event': '创建结束事件',
  'Create task': '创建任务',
  'Create gateway': '创建网关',
  'Create pool/participant': '创建池/参与者',
  'Change type': '更改类型',
  'Delete': '删除',
  'Append task': '追加任务',
  'Append gateway': '追加网关',
  'Append end event': '追加结束事件',
  'Connect using sequence/message flow or association': '使用顺序流/消息流或关联连接',
};

/** A diagram-js translate function for ``locale``: templates like ``{name}`` are filled in. */
export function translator(locale) {
  const table = locale && locale.startsWith('zh') ? zh : {};
  return function translate(template, replacements) {
    const text = table[template] || template;
    return text.replace(/{([^}]+)}/g, (whole, key) => (replacements && key in replacements ? replacements[key] : whole));
  };
}
