require ["variables", "fileinto"];
set :upperfirst "a" "hello";
set :length "len" "${a} world";
set :lower :upperfirst "b" "SHOUT";
set :quotewildcard "q" "a*b?c";
fileinto "${a}-${len}-${b}-${q}";
