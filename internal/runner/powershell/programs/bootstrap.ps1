$ProgressPreference = 'SilentlyContinue'; $l = @($input); & ([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($l[0])))) $l[1]
