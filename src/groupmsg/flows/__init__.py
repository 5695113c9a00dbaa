"""Forms and flows: Yida's 集成&自动化, declared in a YAML file and run from the command line.

The flows file (`./flows.yaml`, `--flows FILE` or `GROUPMSG_FLOWS`)::

    version: 1
    forms:
      - name: 群消息内容录入表
        fields:
          - {name: 消息内容, type: textarea, required: true}
          - {name: 选择群聊, type: select, required: true, options_from: {table: groups, field: name}}
          - name: 群ID
            type: text
            readonly: true
            linkage: {table: groups, where: {name: "{{ 选择群聊 }}"}, take: chat_id}
    flows:
      - name: 发送群消息
        trigger: {form: 群消息内容录入表, event: created, filter: all}
        on_failure: {notify: 运维群}            # optional failure alert
        nodes:
          - {kind: send_group_message, name: 发送, chat: "{{ 群ID }}", text: "{{ 消息内容 }}"}

Fields: `type` text (max_length 200 unless set) | textarea | number | date (YYYY-MM-DD) | select |
multiselect (member ids when it has no options); `required`, `readonly`, `hidden`, `min_length`,
`max_length` (text), `min`, `max` (number); `options` (values or {value, label}) or `options_from`
{table, field}; `default` (a value or a template over other fields) or `linkage` {table, where, take}.

Tables: `groups` (the registry: name, chat_id, open_conversation_id, owner, kind, source,
created_at) and every form by its name (its fields plus id, created_at, updated_at). A lookup that
matches several rows takes the most recently created one.

Triggers: `form`, `event` created | updated | deleted (or 创建成功/更新成功/删除成功, or a list),
`filter` all (全部数据) or {all: [...]} / {any: [...]} of {field, op, value} and nested groups; or
`{schedule: CRON, timezone: ZONE}` (定时触发, run by `flows tick`); or `manual` / `{manual: true,
form: F}` (自定义按钮触发, `flows run`). `allow_auto_trigger: true` on a flow lets records written
by other flows fire it (「允许自动触发」).

Nodes (`kind`, optional `name` for `{{ nodes.NAME.OUTPUT }}`): send_group_message {chat, text,
markdown, title, at_mobiles, at_users, at_all} · create_group {group_name, owner, members,
template_id, if_exists fail|reuse} ·
add_data {table, values} · update_data {table, where, values, if_none skip|insert|fail} · get_data
{table, where, if_none empty|fail} · delete_data {table, where, allow_registry} · branch {mode
condition|parallel, branches: [{name, priority, when | default: true, nodes}]}.

Modules: `model` (frozen dataclasses), `loader` (YAML → model, file:line problems; the only yaml
import), `templating`, `conditions`, `forms` (fill and validate), `tables`, `nodes`, `engine`,
`schedule` (cron expressions in a zone), `ticks` (`flows tick`).
"""
